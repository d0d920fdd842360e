/**
 * @file Timing: warm-up, then the median of repeated measurements, each long enough to rise above timer and
 * dispatch noise. This machine is noisy (±30%), so compare numbers from one run only.
 */
export interface Timing {
  medianMs: number;
  samples: number;
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** A run slower than this gets fewer samples (slow CPU peers would otherwise take minutes per shape). */
const SLOW_RUN_MS = 250;

/**
 * Times `runOnce` (which must wait for its work to finish). Repeats it `inner` times per sample so that a
 * sample lasts at least `minSampleMs`, takes `samples` samples after `warmup` untimed runs; a run slower than
 * SLOW_RUN_MS gets one warm-up and 3 samples.
 */
export async function timeIt(
  runOnce: () => Promise<void>,
  options: { warmup?: number; samples?: number; minSampleMs?: number } = {},
): Promise<Timing> {
  const { warmup = 2, minSampleMs = 30 } = options;
  const probe = performance.now();
  await runOnce();
  const first = performance.now() - probe;
  const slow = first > SLOW_RUN_MS;
  const samples = slow ? 3 : (options.samples ?? 7);
  for (let i = 1; i < (slow ? 1 : warmup); i++) await runOnce();
  const start = performance.now();
  await runOnce();
  const once = performance.now() - start;
  const inner = Math.max(1, Math.ceil(minSampleMs / Math.max(once, 0.01)));
  const times: number[] = [];
  for (let s = 0; s < samples; s++) {
    const t0 = performance.now();
    for (let i = 0; i < inner; i++) await runOnce();
    times.push((performance.now() - t0) / inner);
  }
  return { medianMs: median(times), samples: samples * inner };
}
