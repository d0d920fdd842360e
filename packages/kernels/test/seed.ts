/**
 * @file Per-test random inputs: before each test (seed-setup.ts, a vitest setup file) the generator restarts from
 * a hash of the test's full name, so a test draws the same inputs whatever ran before it and under `-t`
 * filtering, and a failing test prints the seed it ran with. No vitest import here: benchmarks/src/gpu-check.ts
 * bundles the kernel helpers for a bare `node`, where importing vitest throws.
 */
/** FNV-1a (32-bit) of a string: a stable seed from a test's name. */
export function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** A uniform stream in [0, 1) from a 32-bit seed (mulberry32). */
export function uniformStream(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Draws made outside any test (at collection) get a stream of their own, also independent of test order.
let current = { name: '(module level)', seed: hashName('(module level)') };
let stream = uniformStream(current.seed);

/** Restarts the stream for a test (called before each test by seed-setup.ts, a vitest setup file). */
export function reseedFor(name: string): void {
  current = { name, seed: hashName(name) };
  stream = uniformStream(current.seed);
}

/** Where this test's random inputs came from, for failure messages. */
export function seedNote(): string {
  return `random inputs seeded with ${current.seed} (FNV-1a of the test name "${current.name}")`;
}

/** The next value in [0, 1) of the running test's stream. */
export function nextUniform(): number {
  return stream();
}
