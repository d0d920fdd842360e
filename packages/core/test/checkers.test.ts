/** The core closeness check: a reference holding NaN or ±Inf (a poisoned, unwritten element) fails. */
import { describe, expect, it } from 'vitest';
import { expectClose } from './helpers.ts';

const tol = { rtol: 1e-6, atol: 0 };

describe('expectClose', () => {
  it('passes close finite values', () => {
    expectClose([1, 2], [1, 2 + 1e-7], tol, 'close');
  });

  it('fails when the reference holds NaN, even against NaN', () => {
    expect(() => expectClose([1, Number.NaN], [1, Number.NaN], tol, 'nan')).toThrow(
      /nan: the reference's element 1 is NaN, not a finite value; random inputs seeded with \d+/,
    );
  });

  it('fails when the reference holds Inf, or the result NaN', () => {
    expect(() => expectClose([Number.POSITIVE_INFINITY], [Number.POSITIVE_INFINITY], tol, 'inf')).toThrow(
      /element 0 is Infinity, not a finite value/,
    );
    expect(() => expectClose([Number.NaN], [1], tol, 'result')).toThrow(
      /result: element 0 is NaN, expected 1/,
    );
  });
});
