/**
 * @file Reads and writes CoNLL-style column files: one token per line, whitespace-separated columns, a blank
 * line between sentences, `-DOCSTART-` lines ignored. CoNLL-U files (by extension `.conllu` or by content) are
 * recognized first and read by `conllu.ts`, so that their `#` comments are skipped rather than misread.
 *
 * Plain CoNLL has no comment syntax: `#` is a real word in many corpora (`# # O`, `#hashtag` in tweets), so a
 * line starting with `#` is a token there. It is never silent, though: such lines are reported through
 * `onNotice`, and a column-count error on or after one says that comments are read only in CoNLL-U.
 */
import { writeFileSync } from 'node:fs';
import { readTextFile } from '../io/text.ts';
import { resolveColumn } from './columns.ts';
import { CONLLU_COLUMNS, conlluLine, parseConllu } from './conllu.ts';
import type { LabeledSentence } from './labeled.ts';

export type ConllFormat = 'conll' | 'conllu';

export type ConllOptions = {
  /** 0-based column of the label; negative counts from the end. Default: the last column; UPOS (3) in CoNLL-U. */
  labelColumn?: number;
  /** 0-based column of the word; negative counts from the end. Default: 0; FORM (1) in CoNLL-U. */
  wordColumn?: number;
  /** `auto` (the default): CoNLL-U by extension `.conllu` or by content, else plain CoNLL. */
  format?: ConllFormat | 'auto';
  /** Told how the file was read when that is worth knowing (CoNLL-U columns and skips, `#` tokens). */
  onNotice?: (message: string) => void;
};

/** Reads a CoNLL or CoNLL-U file; sentences carry the 1-based line of each token for later error messages. */
export function readConll(path: string, options: ConllOptions = {}): LabeledSentence[] {
  return parseConll(readTextFile(path), path, options);
}

/** CoNLL-U when `source` ends in `.conllu` or the first non-comment line has 10 tab-separated columns and an ID. */
export function detectConllFormat(text: string, source: string): { format: ConllFormat; reason: string } {
  if (/\.conllu$/i.test(source)) return { format: 'conllu', reason: 'its extension is .conllu' };
  const line = conlluLine(text);
  if (line !== null)
    return {
      format: 'conllu',
      reason: `line ${line} has 10 tab-separated columns with a CoNLL-U ID in column 0`,
    };
  return { format: 'conll', reason: 'no .conllu extension, no CoNLL-U rows' };
}

/** Parses CoNLL or CoNLL-U text (see `ConllOptions.format`); `source` names the file in errors (`source:line: …`). */
export function parseConll(text: string, source: string, options: ConllOptions = {}): LabeledSentence[] {
  const { format = 'auto', onNotice } = options;
  const detected = format === 'auto' ? detectConllFormat(text, source) : { format, reason: 'as asked' };
  if (detected.format === 'conll') return parsePlainConll(text, source, options);
  const { sentences, counts, wordAt, labelAt } = parseConllu(text, source, options);
  onNotice?.(
    `${source}: read as CoNLL-U (${detected.reason}): words from ${CONLLU_COLUMNS[wordAt]} (column ${wordAt}), labels from ${CONLLU_COLUMNS[labelAt]} (column ${labelAt}); skipped ${counts.comments} comment line(s), ${counts.multiwordTokens} multiword-token line(s), ${counts.emptyNodes} empty node(s)`,
  );
  return sentences;
}

const HASH_HINT =
  "; a line starting with '#' is a token in plain CoNLL (comments are read only in CoNLL-U: a .conllu file, or 10 tab-separated columns with an ID first)";

function parsePlainConll(text: string, source: string, options: ConllOptions): LabeledSentence[] {
  const { labelColumn = -1, wordColumn = 0, onNotice } = options;
  const sentences: LabeledSentence[] = [];
  let current: Required<LabeledSentence> | undefined;
  // The first token line fixes the column count and where the requested columns are.
  let columns = 0;
  let firstLine = 0;
  let labelAt = 0;
  let wordAt = 0;
  const hashLines: number[] = [];
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
    const hash = fields[0].startsWith('#');
    if (columns === 0) {
      columns = fields.length;
      firstLine = line;
      labelAt = resolveColumn('label', labelColumn, columns, `${source}:${line}`);
      wordAt = resolveColumn('word', wordColumn, columns, `${source}:${line}`);
    } else if (fields.length !== columns) {
      const hint = hash || lines[firstLine - 1].trim().startsWith('#') ? HASH_HINT : '';
      throw new Error(
        `${source}:${line}: expected ${columns} columns (as on line ${firstLine}, the first token line), found ${fields.length}${hint}`,
      );
    }
    if (hash) hashLines.push(line);
    current ??= { words: [], labels: [], line, lines: [] };
    current.words.push(fields[wordAt]);
    current.labels.push(fields[labelAt]);
    current.lines.push(line);
  }
  if (current) sentences.push(current);
  if (sentences.length === 0) throw new Error(`${source}: expected at least one sentence, found none`);
  if (hashLines.length > 0) {
    const first = hashLines[0]!;
    onNotice?.(
      `${source}: ${hashLines.length === 1 ? '1 token line starts' : `${hashLines.length} token lines start`} with '#' and ${hashLines.length === 1 ? 'was' : 'were'} read as a token, as plain CoNLL has no comments (first at line ${first}: '${lines[first - 1].trim()}')`,
    );
  }
  return sentences;
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
