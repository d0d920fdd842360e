import { describe, expect, it } from 'vitest';
import { brownTask } from '../src/data/tasks.ts';
import { majorityBaseline } from '../src/metrics/baseline.ts';

describe('majorityBaseline', () => {
  it('tags known words with their most frequent label, lower-cased, unknown words as nouns', () => {
    const train = [
      { words: ['The', 'dog', 'runs'], labels: ['DET', 'NOUN', 'VERB'] },
      { words: ['the', 'runs', 'runs'], labels: ['DET', 'NOUN', 'NOUN'] },
      { words: ['dogs', 'run'], labels: ['NOUN', 'VERB'] },
    ];
    const test = [{ words: ['THE', 'runs', 'cat', 'run'], labels: ['DET', 'NOUN', 'NOUN', 'NOUN'] }];
    expect(majorityBaseline(train, test)).toEqual({
      accuracy: 3 / 4,
      oovRate: 1 / 4,
      correct: 3,
      total: 4,
      oov: 1,
      unknownLabel: 'NOUN',
    });
    expect(majorityBaseline(train, test, 'VERB').correct).toBe(2);
  });

  it('breaks ties by the label seen first for the word', () => {
    const train = [{ words: ['a', 'a', 'b', 'b'], labels: ['X', 'Y', 'Y', 'X'] }];
    const test = [{ words: ['a', 'b'], labels: ['X', 'X'] }];
    expect(majorityBaseline(train, test).correct).toBe(1);
  });

  it('falls back to the most frequent label when no label is a noun', () => {
    const train = [{ words: ['a', 'b', 'c'], labels: ['O', 'B-NAME', 'O'] }];
    expect(majorityBaseline(train, [{ words: ['z'], labels: ['O'] }]).unknownLabel).toBe('O');
  });

  // docs/data.md: 94.27% universal, 90.25% Brown base tags, 3.8% out of vocabulary on the test split.
  it('reproduces the Brown floors', () => {
    const universal = majorityBaseline(
      brownTask('pos-universal', 'train'),
      brownTask('pos-universal', 'test'),
    );
    const brown = majorityBaseline(brownTask('pos-brown', 'train'), brownTask('pos-brown', 'test'));
    expect(universal.total).toBe(94_774);
    expect(Math.abs(universal.accuracy * 100 - 94.27)).toBeLessThan(0.05);
    expect(Math.abs(brown.accuracy * 100 - 90.25)).toBeLessThan(0.05);
    expect(Math.abs(universal.oovRate * 100 - 3.8)).toBeLessThan(0.05);
    expect((universal.accuracy * 100).toFixed(2)).toBe('94.27');
    expect((brown.accuracy * 100).toFixed(2)).toBe('90.25');
    expect(brown.oov).toBe(universal.oov);
    expect([universal.unknownLabel, brown.unknownLabel]).toEqual(['NOUN', 'nn']);
  });
});
