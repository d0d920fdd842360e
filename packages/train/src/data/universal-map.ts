/**
 * @file Reads the Brown → universal part-of-speech table (Petrov, Das and McDonald 2012, CC BY-SA 4.0) shipped
 * with its licence in `packages/train/data/universal-pos/`.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The 12 universal tags, in the order of the paper. */
export const UNIVERSAL_TAGS = [
  'VERB',
  'NOUN',
  'PRON',
  'ADJ',
  'ADV',
  'ADP',
  'CONJ',
  'DET',
  'NUM',
  'PRT',
  'X',
  '.',
] as const;

export const UNIVERSAL_MAP_PATH = fileURLToPath(
  new URL('../../data/universal-pos/en-brown.map', import.meta.url),
);

let cache: Map<string, string> | undefined;

/** Lower-cased Brown tag → universal tag; the table is upper case, the corpus lower case. */
export function universalMap(): Map<string, string> {
  cache ??= parseMap(readFileSync(UNIVERSAL_MAP_PATH, 'utf8'), UNIVERSAL_MAP_PATH);
  return cache;
}

function parseMap(text: string, source: string): Map<string, string> {
  const known = new Set<string>(UNIVERSAL_TAGS);
  const map = new Map<string, string>();
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    if (lines[n].trim() === '') continue;
    const fields = lines[n].replace(/\r$/, '').split('\t');
    if (fields.length !== 2 || !known.has(fields[1])) {
      throw new Error(`${source}:${n + 1}: expected BROWN_TAG<TAB>UNIVERSAL_TAG, found '${lines[n]}'`);
    }
    map.set(fields[0].toLowerCase(), fields[1]);
  }
  return map;
}
