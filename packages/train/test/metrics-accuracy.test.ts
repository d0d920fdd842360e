import { describe, expect, it } from 'vitest';
import { tokenAccuracy } from '../src/metrics/accuracy.ts';

describe('tokenAccuracy', () => {
  it('counts matching tokens over all sentences', () => {
    const result = tokenAccuracy(
      [
        ['a', 'b', 'c'],
        ['d', 'e'],
      ],
      [
        ['a', 'x', 'c'],
        ['d', 'y'],
      ],
    );
    expect(result).toEqual({ accuracy: 3 / 5, correct: 3, total: 5 });
  });

  it('is 0, not NaN, without tokens', () => {
    expect(tokenAccuracy([], [])).toEqual({ accuracy: 0, correct: 0, total: 0 });
    expect(tokenAccuracy([[]], [[]]).accuracy).toBe(0);
  });

  it('names the sentence whose lengths differ', () => {
    expect(() => tokenAccuracy([['a'], ['b', 'c']], [['a'], ['b']])).toThrow(
      'sentence 1: expected 2 predicted labels (as gold), found 1',
    );
    expect(() => tokenAccuracy([['a']], [])).toThrow('expected 1 predicted sentences (as gold), found 0');
  });
});
