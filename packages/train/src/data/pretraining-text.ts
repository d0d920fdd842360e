/**
 * @file Text for pretraining: the Brown training documents (dev documents held out for perplexity), or a text
 * file the user gives (one sentence per line, whitespace-separated words).
 */
import { readTextFile } from '../io/text.ts';
import { loadBrown } from './brown.ts';
import { brownSplit } from './split.ts';
import { pretrainingSentences } from './tasks.ts';

/** A text file's lines (90% train, the last 10% held out) or the Brown train documents (dev documents held out). */
export function pretrainingText(file?: string): { train: string[][]; dev: string[][] } {
  if (!file) {
    return {
      train: pretrainingSentences(),
      dev: brownSplit('dev', loadBrown()).flatMap((doc) => doc.sentences.map((s) => s.words)),
    };
  }
  const lines = readTextFile(file)
    .split('\n')
    .map((l) => l.trim().split(/\s+/).filter(Boolean))
    .filter((w) => w.length > 0);
  if (lines.length < 2)
    throw new Error(`${file}: need at least 2 non-empty lines of text, found ${lines.length}`);
  const cut = Math.max(1, Math.floor(lines.length * 0.9));
  return { train: lines.slice(0, cut), dev: lines.slice(cut) };
}
