import { describe, expect, it } from 'vitest';
import { loadBrown } from '../src/data/brown.ts';
import { isProperNounTag, nameLabels } from '../src/data/names.ts';
import { brownSplit } from '../src/data/split.ts';
import { brownTask, pretrainingSentences } from '../src/data/tasks.ts';

const sentenceCount = (split: 'train' | 'dev' | 'test') =>
  brownSplit(split, loadBrown()).reduce((n, d) => n + d.sentences.length, 0);

describe('brownTask', () => {
  it('labels every word of the split, in document order', () => {
    const test = brownTask('pos-universal', 'test');
    expect(test).toHaveLength(4744);
    expect(test.reduce((n, s) => n + s.words.length, 0)).toBe(94_774);
    expect(test[0].words.slice(0, 3)).toEqual(['Vincent', 'G.', 'Ierulli']);
    expect(test[0].labels.slice(0, 3)).toEqual(['NOUN', 'NOUN', 'NOUN']);
    expect(test.every((s) => s.labels.length === s.words.length)).toBe(true);
  });

  it('uses base tags for pos-brown', () => {
    const [first] = brownTask('pos-brown', 'train');
    expect(first.words.slice(0, 4)).toEqual(['The', 'Fulton', 'County', 'Grand']);
    expect(first.labels.slice(0, 4)).toEqual(['at', 'np', 'nn', 'jj']);
  });

  it('marks proper-noun runs as IOB2 names', () => {
    const [first] = brownTask('names', 'train');
    const named = first.words.map((w, i) => `${w}/${first.labels[i]}`).filter((t) => !t.endsWith('/O'));
    expect(named).toEqual(['Fulton/B-NAME', "Atlanta's/B-NAME"]);
    const test = brownTask('names', 'test');
    const count = (label: string) => test.reduce((n, s) => n + s.labels.filter((l) => l === label).length, 0);
    expect(count('B-NAME')).toBe(2568);
    expect(count('I-NAME')).toBe(3250 - 2568);
  });

  it('refuses an unknown task or split', () => {
    expect(() => brownTask('ner' as 'names', 'test')).toThrow(/'ner'/);
    expect(() => brownTask('names', 'valid' as 'dev')).toThrow(/'valid'/);
  });
});

describe('nameLabels', () => {
  it('opens a span at each run of proper-noun tokens, including compounds with an np part', () => {
    expect(nameLabels(['np', 'np-tl', 'nn-tl', 'nps$', 'cc', 'np+bez', 'fw-in+np-tl'])).toEqual([
      'B-NAME',
      'I-NAME',
      'O',
      'B-NAME',
      'O',
      'B-NAME',
      'I-NAME',
    ]);
    expect(isProperNounTag('np$')).toBe(true);
    expect(isProperNounTag('nn')).toBe(false);
    expect(isProperNounTag('nr')).toBe(false);
    expect(nameLabels([])).toEqual([]);
  });
});

describe('pretrainingSentences', () => {
  const sentences = pretrainingSentences();

  it('is the words of the training documents', () => {
    expect(sentences).toHaveLength(sentenceCount('train'));
    expect(sentences.reduce((n, s) => n + s.length, 0)).toBe(961_698);
    expect(sentences).toEqual(brownTask('pos-brown', 'train').map((s) => s.words));
  });

  it('leaks no dev or test document', () => {
    expect(sentenceCount('train') + sentenceCount('dev') + sentenceCount('test')).toBe(57_340);
    // Whole documents are held out: their long opening sentences must not occur in pretraining text.
    const seen = new Set(sentences.map((s) => s.join(' ')));
    for (const split of ['dev', 'test'] as const) {
      for (const doc of brownSplit(split, loadBrown())) {
        const opening = doc.sentences.find((s) => s.words.length >= 12)!;
        expect(seen.has(opening.words.join(' ')), doc.id).toBe(false);
      }
    }
  });
});
