/**
 * Reading the user's text files as UTF-8 is never silently lossy: bytes that are not UTF-8 are counted exactly
 * (real U+FFFD characters in the file are not miscounted), located by line, and warned about or refused.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { pretrainingText, readConll } from '../src/data/index.ts';
import { type InvalidUtf8, readTextFile } from '../src/io/index.ts';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'reprise-text-'));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
  vi.restoreAllMocks();
});

const file = (name: string, bytes: number[] | string) => {
  const path = join(root, name);
  writeFileSync(path, typeof bytes === 'string' ? bytes : Buffer.from(bytes));
  return path;
};

describe('readTextFile', () => {
  it('reads UTF-8 (real U+FFFD included) without a word', () => {
    const warn = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const path = file('ok.txt', 'café \uFFFD naïve\n');
    expect(readTextFile(path, { onInvalid: 'error' })).toBe('café \uFFFD naïve\n');
    expect(readTextFile(path)).toBe('café \uFFFD naïve\n');
    expect(warn).not.toHaveBeenCalled();
  });

  it('counts the bytes replaced in a Latin-1 file and the line of the first', () => {
    // "ok\ncaf\xe9 na\xefve\n\xff\n": three Latin-1 bytes, the first on line 2.
    const path = file(
      'latin1.txt',
      [111, 107, 10, 99, 97, 102, 0xe9, 32, 110, 97, 0xef, 118, 101, 10, 0xff, 10],
    );
    const seen: InvalidUtf8[] = [];
    const text = readTextFile(path, { onInvalid: (info) => seen.push(info) });
    expect(seen).toEqual([{ path, bytes: 3, firstLine: 2, firstOffset: 6 }]);
    expect(text).toBe('ok\ncaf\uFFFD na\uFFFDve\n\uFFFD\n');
  });

  it('counts bytes, not replacement characters, for a truncated multi-byte sequence', () => {
    // "€" is E2 82 AC; E2 82 alone is one replacement for two bytes. Plus a real U+FFFD: no line is given.
    const path = file('cut.txt', [0xe2, 0x82, 32, 0xef, 0xbf, 0xbd, 10]);
    const seen: InvalidUtf8[] = [];
    readTextFile(path, { onInvalid: (info) => seen.push(info) });
    expect(seen).toEqual([{ path, bytes: 2, firstLine: null, firstOffset: 0 }]);
  });

  it('warns on stderr by default, and refuses with onInvalid: error', () => {
    const path = file('bad.conll', [0xe9, 32, 88, 32, 79, 10]);
    const warn = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    expect(readTextFile(path)).toBe('\uFFFD X O\n');
    expect(warn).toHaveBeenCalledWith(
      `warning: ${path}: 1 byte is not valid UTF-8 (the first at line 1, byte offset 0); they were read as U+FFFD (convert the file to UTF-8, e.g. iconv -f latin1 -t utf-8)\n`,
    );
    expect(() => readTextFile(path, { onInvalid: 'error' })).toThrow(
      `${path}: 1 byte is not valid UTF-8 (the first at line 1, byte offset 0); expected UTF-8`,
    );
  });

  it('is what the CoNLL and pretraining-text readers use', () => {
    const warn = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const conll = file('latin1.conll', [0x63, 0x61, 0x66, 0xe9, 32, 79, 10, 10]);
    expect(readConll(conll)[0]!.words).toEqual(['caf\uFFFD']);
    const text = file('latin1.txt', [0x61, 0xe9, 10, 0x62, 10]);
    expect(pretrainingText(text).train).toEqual([['a\uFFFD']]);
    expect(warn.mock.calls.map(([line]) => String(line).split(';')[0])).toEqual([
      `warning: ${conll}: 1 byte is not valid UTF-8 (the first at line 1, byte offset 3)`,
      `warning: ${text}: 1 byte is not valid UTF-8 (the first at line 1, byte offset 1)`,
    ]);
  });
});
