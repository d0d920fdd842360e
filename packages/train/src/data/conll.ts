/**
 * @file Reads and writes CoNLL-style column files: one token per line, whitespace-separated columns, a blank
 * line between sentences, `-DOCSTART-` lines ignored.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { LabeledSentence } from './labeled.ts';

export type ConllOptions = {
  /** 0-based column of the label; negative counts from the end (-1, the default, is the last column). */
  labelColumn?: number;
  /** 0-based column of the word (default 0); negative counts from the end. */
  wordColumn?: number;
};

/** Reads a CoNLL file; sentences carry the 1-based line of each token for later error messages. */
export function readConll(path: string, options: ConllOptions = {}): LabeledSentence[] {
  return parseConll(readFileSync(path, 'utf8'), path, options);
}

/** Parses CoNLL text; `source` names the file in errors (`source:line: …`). */
export function parseConll(text: string, source: string, options: ConllOptions = {}): LabeledSentence[] {
  const { labelColumn = -1, wordColumn = 0 } = options;
  const sentences: LabeledSentence[] = [];
  let current: Required<LabeledSentence> | undefined;
  // The first token line fixes the column count and where the requested columns are.
  let columns = 0;
  let labelAt = 0;
  let wordAt = 0;
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = n + 1;
    const fields = lines[n].trim().split(/\s+/);
    // A `-DOCSTART-` line is a sentence boundary too, even when the blank line after it is missing.
    if (fields[0] === '' || fields[0] === '-DOCSTART-') {
      if (current) sentences.push(current);
      current = undefined;
      continue;
    }
    if (columns === 0) {
      columns = fields.length;
      labelAt = resolveColumn('label', labelColumn, columns, `${source}:${line}`);
      wordAt = resolveColumn('word', wordColumn, columns, `${source}:${line}`);
    } else if (fields.length !== columns) {
      throw new Error(
        `${source}:${line}: expected ${columns} columns (as on the first token line), found ${fields.length}`,
      );
    }
    current ??= { words: [], labels: [], line, lines: [] };
    current.words.push(fields[wordAt]);
    current.labels.push(fields[labelAt]);
    current.lines.push(line);
  }
  if (current) sentences.push(current);
  if (sentences.length === 0) throw new Error(`${source}: expected at least one sentence, found none`);
  return sentences;
}

function resolveColumn(what: string, column: number, columns: number, where: string): number {
  const index = column < 0 ? columns + column : column;
  if (!Number.isInteger(column) || index < 0 || index >= columns) {
    throw new Error(
      `${where}: ${what} column ${column} is out of range: expected -${columns}..${columns - 1}, found ${columns} columns`,
    );
  }
  return index;
}

/** Throws at the first label outside `knownLabels`, naming the token's file and line. */
export function checkLabels(
  sentences: readonly LabeledSentence[],
  knownLabels: Set<string>,
  source: string,
): void {
  for (let s = 0; s < sentences.length; s++) {
    const { labels, lines, line } = sentences[s];
    for (let i = 0; i < labels.length; i++) {
      if (knownLabels.has(labels[i])) continue;
      const at = lines?.[i] ?? line;
      const where = at === undefined ? `${source}: sentence ${s}, token ${i}` : `${source}:${at}`;
      const known = [...knownLabels].sort().join(', ');
      throw new Error(`${where}: unknown label '${labels[i]}', expected one of: ${known}`);
    }
  }
}

/** One sentence of predictions; `gold` is left out for unlabeled input. */
export type PredictionRow = { words: readonly string[]; gold?: readonly string[]; pred: readonly string[] };

/** `word<TAB>gold<TAB>pred` (or `word<TAB>pred` without gold) per token, a blank line after each sentence. */
export function formatConll(rows: readonly PredictionRow[]): string {
  let out = '';
  rows.forEach(({ words, gold, pred }, s) => {
    if (pred.length !== words.length || (gold && gold.length !== words.length)) {
      const lengths = `${words.length} words, ${gold ? `${gold.length} gold, ` : ''}${pred.length} predicted labels`;
      throw new Error(`sentence ${s}: expected one label per word, found ${lengths}`);
    }
    for (let i = 0; i < words.length; i++) {
      out += gold ? `${words[i]}\t${gold[i]}\t${pred[i]}\n` : `${words[i]}\t${pred[i]}\n`;
    }
    out += '\n';
  });
  return out;
}

/** Writes `formatConll(rows)` to `path`; the result reads back with `readConll` (label column -1 = pred). */
export function writeConll(path: string, rows: readonly PredictionRow[]): void {
  writeFileSync(path, formatConll(rows), 'utf8');
}
