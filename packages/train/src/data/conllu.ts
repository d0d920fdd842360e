/**
 * @file Reads CoNLL-U (Universal Dependencies): ten tab-separated columns ID FORM LEMMA UPOS XPOS FEATS HEAD
 * DEPREL DEPS MISC, `#` comment lines, a blank line after each sentence. Words come from FORM and labels from
 * UPOS unless told otherwise; multiword-token lines (ID `1-2`) and empty nodes (ID `1.1`) are skipped, since
 * their words are the syntactic tokens listed beside them.
 */
import { resolveColumn } from './columns.ts';
import type { LabeledSentence } from './labeled.ts';

export const CONLLU_COLUMNS = [
  'ID',
  'FORM',
  'LEMMA',
  'UPOS',
  'XPOS',
  'FEATS',
  'HEAD',
  'DEPREL',
  'DEPS',
  'MISC',
] as const;
/** Default columns: FORM for words, UPOS for labels. */
export const CONLLU_WORD_COLUMN = 1;
export const CONLLU_LABEL_COLUMN = 3;

const TOKEN_ID = /^[1-9]\d*$/;
const RANGE_ID = /^[1-9]\d*-[1-9]\d*$/;
const EMPTY_ID = /^\d+\.[1-9]\d*$/;

/** The 1-based line of the first line that is neither blank nor a `#` comment, if it looks like CoNLL-U. */
export function conlluLine(text: string): number | null {
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!.replace(/\r$/, '');
    if (line.trim() === '' || line.startsWith('#')) continue;
    const fields = line.split('\t');
    const id = fields[0]!;
    const isId = TOKEN_ID.test(id) || RANGE_ID.test(id) || EMPTY_ID.test(id);
    return fields.length === CONLLU_COLUMNS.length && isId ? n + 1 : null;
  }
  return null;
}

export type ConlluCounts = { comments: number; multiwordTokens: number; emptyNodes: number };

/** Parses CoNLL-U text; `source` names the file in errors (`source:line: …`). */
export function parseConllu(
  text: string,
  source: string,
  options: { labelColumn?: number; wordColumn?: number } = {},
): { sentences: LabeledSentence[]; counts: ConlluCounts; wordAt: number; labelAt: number } {
  const n = CONLLU_COLUMNS.length;
  const labelAt = resolveColumn(
    'label',
    options.labelColumn ?? CONLLU_LABEL_COLUMN,
    n,
    `${source} (CoNLL-U)`,
  );
  const wordAt = resolveColumn('word', options.wordColumn ?? CONLLU_WORD_COLUMN, n, `${source} (CoNLL-U)`);
  const counts: ConlluCounts = { comments: 0, multiwordTokens: 0, emptyNodes: 0 };
  const sentences: LabeledSentence[] = [];
  let current: Required<LabeledSentence> | undefined;
  let lastId = 0;
  const lines = text.split('\n');
  for (let k = 0; k < lines.length; k++) {
    const line = k + 1;
    const row = lines[k]!.replace(/\r$/, '');
    if (row.trim() === '') {
      if (current) sentences.push(current);
      current = undefined;
      lastId = 0;
      continue;
    }
    if (row.startsWith('#')) {
      counts.comments++;
      continue;
    }
    // Tabs only: UD allows spaces inside FORM and LEMMA.
    const fields = row.split('\t');
    if (fields.length !== n) {
      throw new Error(
        `${source}:${line}: expected ${n} tab-separated CoNLL-U columns (${CONLLU_COLUMNS.join(' ')}), found ${fields.length}`,
      );
    }
    const id = fields[0]!;
    if (RANGE_ID.test(id)) {
      counts.multiwordTokens++;
      continue;
    }
    if (EMPTY_ID.test(id)) {
      counts.emptyNodes++;
      continue;
    }
    if (!TOKEN_ID.test(id)) {
      throw new Error(
        `${source}:${line}: expected a CoNLL-U ID in column 0 (a word index like 3, a range like 3-4 or an empty node like 3.1), found '${id}'`,
      );
    }
    if (Number(id) !== lastId + 1) {
      throw new Error(
        `${source}:${line}: expected word ID ${lastId + 1} (IDs count from 1 in each sentence), found ${id}; is a blank line missing between sentences?`,
      );
    }
    lastId = Number(id);
    current ??= { words: [], labels: [], line, lines: [] };
    current.words.push(fields[wordAt]!);
    current.labels.push(fields[labelAt]!);
    current.lines.push(line);
  }
  if (current) sentences.push(current);
  if (sentences.length === 0) throw new Error(`${source}: expected at least one sentence, found none`);
  return { sentences, counts, wordAt, labelAt };
}
