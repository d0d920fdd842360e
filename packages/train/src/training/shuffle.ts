/**
 * @file Deterministic shuffling: the same seed and epoch give the same order on every run and machine.
 */
import { Rng } from '@reprise/core';

export function shuffled<T>(items: readonly T[], seed: number): T[] {
  const rng = new Rng(seed);
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** A seed for (run seed, epoch, purpose), so that streams do not collide. */
export const mixSeed = (...parts: number[]) =>
  parts.reduce((h, p) => (Math.imul(h ^ (p >>> 0), 0x9e3779b1) + 0x7f4a7c15) >>> 0, 0x12345678);
