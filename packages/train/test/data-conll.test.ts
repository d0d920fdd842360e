import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  checkLabels,
  detectConllFormat,
  formatConll,
  parseConll,
  readConll,
  writeConll,
} from '../src/data/conll.ts';

const dir = mkdtempSync(join(tmpdir(), 'reprise-conll-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const CONLL03 = `-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER
`;

describe('readConll', () => {
  it('reads sentences, skips -DOCSTART-, keeps a final sentence without a blank line, records lines', () => {
    const sentences = readConll(file('a.conll', CONLL03));
    expect(sentences).toEqual([
      { words: ['EU', 'rejects', 'German'], labels: ['B-ORG', 'O', 'B-MISC'], line: 3, lines: [3, 4, 5] },
      { words: ['Peter', 'Blackburn'], labels: ['B-PER', 'I-PER'], line: 7, lines: [7, 8] },
    ]);
    const noFinalNewline = readConll(file('b.conll', 'a\tX\nb\tY'));
    expect(noFinalNewline).toEqual([{ words: ['a', 'b'], labels: ['X', 'Y'], line: 1, lines: [1, 2] }]);
  });

  it('picks columns by index, negative from the end', () => {
    const path = file('c.conll', CONLL03);
    expect(readConll(path, { labelColumn: 1 })[0].labels).toEqual(['NNP', 'VBZ', 'JJ']);
    expect(readConll(path, { labelColumn: -2 })[1].labels).toEqual(['B-NP', 'I-NP']);
    expect(readConll(path, { wordColumn: 1, labelColumn: 0 })[1]).toMatchObject({
      words: ['NNP', 'NNP'],
      labels: ['Peter', 'Blackburn'],
    });
  });

  it('treats several blank lines, whitespace-only lines and CRLF as one boundary', () => {
    const sentences = parseConll('a X\r\n\r\n  \n\nb Y\r\nc Z\r\n', 'mem');
    expect(sentences.map((s) => s.words)).toEqual([['a'], ['b', 'c']]);
    expect(sentences[1].lines).toEqual([5, 6]);
    const docstart = parseConll('a X\n-DOCSTART- -X- O\nb Y\n', 'mem');
    expect(docstart.map((s) => s.words)).toEqual([['a'], ['b']]);
  });

  it('names file, line, expected and found columns for a ragged line', () => {
    const path = file('ragged.conll', 'a X\nb Y\n\nc\n');
    expect(() => readConll(path)).toThrow(
      `${path}:4: expected 2 columns (as on line 1, the first token line), found 1`,
    );
  });

  it('refuses a label column out of range', () => {
    const path = file('range.conll', '\na X\n');
    expect(() => readConll(path, { labelColumn: 2 })).toThrow(`${path}:2: label column 2 is out of range`);
    expect(() => readConll(path, { labelColumn: -3 })).toThrow(/found 2 columns/);
    expect(() => readConll(path, { wordColumn: 5 })).toThrow(/word column 5/);
  });

  it('refuses a file without sentences', () => {
    expect(() => readConll(file('empty.conll', ''))).toThrow(/empty\.conll: expected at least one sentence/);
    expect(() => parseConll('-DOCSTART- O\n\n\n', 'only-docstart')).toThrow(
      /only-docstart: expected at least one/,
    );
  });
});

describe('checkLabels', () => {
  it('names the first unknown label with its file and line', () => {
    const sentences = parseConll('a O\nb B-PER\n\nc B-LOC\nd I-ORG\n', 'x.conll');
    const known = new Set(['O', 'B-PER', 'I-PER', 'B-LOC', 'I-LOC']);
    expect(() => checkLabels(sentences, known, 'x.conll')).toThrow(/^x\.conll:5: unknown label 'I-ORG'/);
    expect(() => checkLabels(sentences.slice(0, 1), known, 'x.conll')).not.toThrow();
  });

  it('falls back to sentence and token positions without line numbers', () => {
    expect(() => checkLabels([{ words: ['a'], labels: ['Q'] }], new Set(['O']), 'memory')).toThrow(
      "memory: sentence 0, token 0: unknown label 'Q'",
    );
  });
});

describe('formatConll / writeConll', () => {
  it('writes word, gold and prediction columns with a blank line after each sentence', () => {
    const rows = [
      { words: ['EU', 'rejects'], gold: ['B-ORG', 'O'], pred: ['B-ORG', 'B-ORG'] },
      { words: ['Peter'], gold: ['B-PER'], pred: ['O'] },
    ];
    expect(formatConll(rows)).toBe('EU\tB-ORG\tB-ORG\nrejects\tO\tB-ORG\n\nPeter\tB-PER\tO\n\n');
    expect(formatConll([{ words: ['x'], pred: ['Y'] }])).toBe('x\tY\n\n');
    const path = join(dir, 'pred.conll');
    writeConll(path, rows);
    expect(readConll(path).map((s) => s.labels)).toEqual([['B-ORG', 'B-ORG'], ['O']]);
    expect(readConll(path, { labelColumn: 1 }).map((s) => s.labels)).toEqual([['B-ORG', 'O'], ['B-PER']]);
  });

  it('refuses rows whose labels do not match the words', () => {
    expect(() => formatConll([{ words: ['a', 'b'], pred: ['O'] }])).toThrow(
      /sentence 0: expected one label per word/,
    );
  });
});

const UD = join(import.meta.dirname, 'fixtures', 'ud.conllu');
const UD_TEXT = readFileSync(UD, 'utf8');

describe('CoNLL-U', () => {
  it('reads FORM and UPOS word by word, skipping comments, multiword tokens and empty nodes', () => {
    const notices: string[] = [];
    const sentences = readConll(UD, { onNotice: (m) => notices.push(m) });
    expect(sentences).toEqual([
      {
        words: ['Vamos', 'nos', 'a', 'el', 'mar', '.'],
        labels: ['VERB', 'PRON', 'ADP', 'DET', 'NOUN', 'PUNCT'],
        line: 5,
        lines: [5, 6, 8, 9, 10, 11],
      },
      {
        // `#` with an ID is a word; FORM may hold a space.
        words: ['Sue', 'likes', 'coffee', 'and', 'Bill', 'tea', '#', '500 000'],
        labels: ['PROPN', 'VERB', 'NOUN', 'CCONJ', 'PROPN', 'NOUN', 'SYM', 'NUM'],
        line: 15,
        lines: [15, 16, 17, 18, 19, 21, 22, 23],
      },
    ]);
    expect(notices).toEqual([
      `${UD}: read as CoNLL-U (its extension is .conllu): words from FORM (column 1), labels from UPOS (column 3); skipped 5 comment line(s), 2 multiword-token line(s), 1 empty node(s)`,
    ]);
  });

  it('detects CoNLL-U by content, and takes --label-column among its ten columns', () => {
    expect(detectConllFormat(UD_TEXT, 'ud.txt')).toEqual({
      format: 'conllu',
      reason: 'line 4 has 10 tab-separated columns with a CoNLL-U ID in column 0',
    });
    const xpos = parseConll(UD_TEXT, 'ud.txt', { labelColumn: 4 });
    expect(xpos[1]!.labels).toEqual(['NNP', 'VBZ', 'NN', 'CC', 'NNP', 'NN', 'NN', 'CD']);
    expect(parseConll(UD_TEXT, 'ud.txt', { labelColumn: -3 })[0]!.labels[0]).toBe('root');
    expect(detectConllFormat(CONLL03, 'a.conll').format).toBe('conll');
    // Forced plain CoNLL on CoNLL-U content: the comment is a token, the rows have other column counts.
    expect(() => parseConll(UD_TEXT, 'ud.txt', { format: 'conll' })).toThrow(
      /comments are read only in CoNLL-U/,
    );
  });

  it('names file, line and what was expected for broken CoNLL-U', () => {
    const row = (id: string, form = 'w') => `${id}\t${form}\t_\tX\t_\t_\t_\t_\t_\t_`;
    expect(() => parseConll(`${row('1')}\nw\tX\n`, 'b.conllu')).toThrow(
      'b.conllu:2: expected 10 tab-separated CoNLL-U columns (ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC), found 2',
    );
    expect(() => parseConll(`${row('1')}\n${row('x')}\n`, 'b.conllu')).toThrow(
      "b.conllu:2: expected a CoNLL-U ID in column 0 (a word index like 3, a range like 3-4 or an empty node like 3.1), found 'x'",
    );
    expect(() => parseConll(`${row('1')}\n${row('3')}\n`, 'b.conllu')).toThrow(
      'b.conllu:2: expected word ID 2 (IDs count from 1 in each sentence), found 3',
    );
    expect(() => parseConll(`${row('1')}\n`, 'b.conllu', { labelColumn: 10 })).toThrow(
      'b.conllu (CoNLL-U): label column 10 is out of range: expected -10..9',
    );
    expect(() => parseConll('# only a comment\n', 'c.conllu')).toThrow(
      'c.conllu: expected at least one sentence',
    );
  });
});

describe("plain CoNLL lines starting with '#'", () => {
  it('reads them as tokens, and says so', () => {
    const notices: string[] = [];
    const sentences = parseConll('a X O\n# X O\nb Y O\n', 'h.conll', { onNotice: (m) => notices.push(m) });
    expect(sentences[0]!.words).toEqual(['a', '#', 'b']);
    expect(notices).toEqual([
      "h.conll: 1 token line starts with '#' and was read as a token, as plain CoNLL has no comments (first at line 2: '# X O')",
    ]);
    const quiet: string[] = [];
    parseConll(CONLL03, 'q.conll', { onNotice: (m) => quiet.push(m) });
    expect(quiet).toEqual([]);
  });

  it('explains a column-count error on or after a comment-like line', () => {
    expect(() => parseConll('# sent_id = 1\nEU B-ORG\n', 'c.conll')).toThrow(
      "c.conll:2: expected 4 columns (as on line 1, the first token line), found 2; a line starting with '#' is a token in plain CoNLL",
    );
    expect(() => parseConll('EU B-ORG\n# text = EU\n', 'c.conll')).toThrow(
      /c\.conll:2: expected 2 columns .*found 4; a line starting with '#' is a token/,
    );
  });
});
