/**
 * @file One benchmarked computation of one implementation, and how every suite checks and times it: the
 * outputs are compared with a reference first (a wrong result becomes an error, never a time), then `run` is
 * timed. `run` resolves when the results are on the host, the one definition every peer can meet the same way.
 */
import { type HostArray, compareToTwin } from '@reprise/kernels';
import type { Measurement } from './report.ts';
import { timeIt } from './timing.ts';

export interface Job {
  /** One computation, resolved when its outputs are on the host. */
  run(): Promise<void>;
  /** The outputs of one computation, for the correctness check. */
  outputs(): Promise<HostArray[]>;
  dispose(): void;
  /** Peak bytes the implementation held during one run (measured after timing, where it can tell). */
  peakBytes?(): Promise<number>;
}

export interface Work {
  /** Floating-point operations of one run (for GFLOP/s). */
  flops?: number;
  /** Bytes a perfect implementation must move (for GB/s). */
  bytes?: number;
}

export type Base = Pick<Measurement, 'bench' | 'shape' | 'label' | 'impl' | 'adapter'>;

/** One implementation of a benchmarked computation: its name, where it runs, and how to build its job. */
export interface ImplCase {
  impl: string;
  adapter: string;
  build: () => Job | Promise<Job>;
}

/**
 * The check of outputs against reference outputs (the CPU twin's, or a twin-checked path's): as many outputs,
 * each as long, every element within atol + rtol·|reference|; NaN or ±∞ where the reference is finite fails.
 */
export function twinCheck(
  expected: readonly HostArray[],
  tol: { rtol: number; atol: number },
): (outputs: HostArray[]) => string | null {
  return (outputs) => {
    if (outputs.length !== expected.length)
      return `${outputs.length} outputs, expected ${expected.length} (as many as the reference)`;
    for (const [i, out] of outputs.entries()) {
      const want = expected[i]!;
      if (out.length !== want.length)
        return `output ${i} has ${out.length} elements, expected ${want.length}`;
      const problem = compareToTwin(out, want, tol.rtol, tol.atol);
      if (problem) return `output ${i}: ${problem}`;
    }
    return null;
  };
}

/**
 * Builds the job, checks it with `check` (a problem or null), times it. Failures to build or run are
 * reported as the measurement's error.
 */
export async function measureJob(
  base: Base,
  build: () => Job | Promise<Job>,
  check: (outputs: HostArray[]) => string | null,
  work: Work,
): Promise<Measurement> {
  let job: Job | null = null;
  try {
    job = await build();
    const problem = check(await job.outputs());
    if (problem) return { ...base, error: `wrong result: ${problem}` };
    const timing = await timeIt(() => job!.run());
    const ms = timing.medianMs;
    const peak = await job.peakBytes?.();
    return {
      ...base,
      ...(peak === undefined ? {} : { peak_bytes: peak }),
      median_ms: ms,
      ...(work.flops === undefined ? {} : { gflops: work.flops / ms / 1e6 }),
      ...(work.bytes === undefined ? {} : { gbps: work.bytes / ms / 1e6 }),
    };
  } catch (e) {
    return { ...base, error: (e as Error).message.split('\n')[0] };
  } finally {
    job?.dispose();
  }
}
