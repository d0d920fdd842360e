/**
 * @file Measures one training step (profile-steps.ts) by phase and by kernel. By phase: each phase's host time
 * (JS building the graph and encoding commands), time inside `queue.submit`, time waiting for the device
 * (drained after each phase), and its dispatches, submits, buffer allocations and new GPU buffers. By kernel:
 * one step is recorded (runtime/trace.ts) and every dispatch replayed on its own (runtime/replay.ts).
 */
import { type Tensor, tidy } from '@reprise/core';
import {
  DispatchReplayer,
  type DispatchTrace,
  type TracedDispatch,
  type WebGpuBackend,
} from '@reprise/kernels';
import type { StepCase } from './profile-steps.ts';
import { median } from './timing.ts';

export const PHASES = ['forward', 'backward', 'optimizer', 'readback'] as const;

export interface PhaseSample {
  phase: string;
  wallMs: number;
  /** Time in the phase's synchronous calls, less the time inside `queue.submit`. */
  hostMs: number;
  submitMs: number;
  /** Waiting for the device: the drain after the phase (or, for the readback, the loss's `item()`). */
  waitMs: number;
  dispatches: number;
  submits: number;
  allocations: number;
  newBuffers: number;
}

type Counters = WebGpuBackend['counters'];

function sample(phase: string, c0: Counters, c1: Counters, c2: Counters, t: number[]): PhaseSample {
  const [t0, t1, t2] = t as [number, number, number];
  return {
    phase,
    wallMs: t2 - t0,
    hostMs: t1 - t0 - (c1.submitMs - c0.submitMs),
    submitMs: c2.submitMs - c0.submitMs,
    waitMs: t2 - t1 - (c2.submitMs - c1.submitMs),
    dispatches: c2.dispatches - c0.dispatches,
    submits: c2.submits - c0.submits,
    allocations: c2.allocations - c0.allocations,
    newBuffers: c2.buffers - c0.buffers,
  };
}

/**
 * One step, phase by phase. With `drain`, the device is drained after each phase (which stops the GPU from
 * working while the host records the next phase: the phases' sum is slower than a real step). A trace, if
 * given, gets each dispatch tagged with its phase.
 */
export async function runStep(
  gpu: WebGpuBackend,
  c: StepCase,
  drain: boolean,
  trace: DispatchTrace | null = null,
): Promise<PhaseSample[]> {
  let loss: Tensor | null = null;
  const work: Record<(typeof PHASES)[number], () => Promise<unknown> | undefined> = {
    forward: () => void (loss = tidy(() => c.forward())),
    backward: () => void tidy(() => loss!.backward()),
    optimizer: () => void tidy(() => c.optimizer.step()),
    readback: () => loss!.item(),
  };
  const out: PhaseSample[] = [];
  for (const phase of PHASES) {
    if (trace) trace.phase = phase;
    const c0 = gpu.counters;
    const t0 = performance.now();
    const pending = work[phase]();
    const t1 = performance.now();
    const c1 = gpu.counters;
    const value = await pending;
    if (drain) await gpu.sync();
    out.push(sample(phase, c0, c1, gpu.counters, [t0, t1, performance.now()]));
    if (phase === 'readback' && !Number.isFinite(value as number))
      throw new Error(`${c.name}: the loss is ${value}: the step is broken, its timings would mean nothing`);
  }
  (loss as Tensor | null)?.dispose();
  return out;
}

/** The median of each field over steps, phase by phase, plus a 'step' row summing the phases of each step. */
export function medianPhases(steps: readonly PhaseSample[][]): PhaseSample[] {
  const withTotal = steps.map((s) => [...s, total(s)]);
  return withTotal[0]!.map((first, i) => {
    const at = (key: keyof Omit<PhaseSample, 'phase'>) => median(withTotal.map((s) => s[i]![key]));
    return {
      phase: first.phase,
      wallMs: at('wallMs'),
      hostMs: at('hostMs'),
      submitMs: at('submitMs'),
      waitMs: at('waitMs'),
      dispatches: at('dispatches'),
      submits: at('submits'),
      allocations: at('allocations'),
      newBuffers: at('newBuffers'),
    };
  });
}

function total(s: readonly PhaseSample[]): PhaseSample {
  const sum = (key: keyof Omit<PhaseSample, 'phase'>) => s.reduce((a, p) => a + p[key], 0);
  return {
    phase: 'step',
    wallMs: sum('wallMs'),
    hostMs: sum('hostMs'),
    submitMs: sum('submitMs'),
    waitMs: sum('waitMs'),
    dispatches: sum('dispatches'),
    submits: sum('submits'),
    allocations: sum('allocations'),
    newBuffers: sum('newBuffers'),
  };
}

export interface KernelTime {
  dispatch: TracedDispatch;
  /** The replay's time per dispatch less its share of an empty dispatch's round trip (never below 0). */
  ms: number;
}

/** Records one (undrained) step, then replays each of its dispatches `reps` times on its own. */
export async function kernelTimes(
  gpu: WebGpuBackend,
  c: StepCase,
  reps: number,
): Promise<{ times: KernelTime[]; roundTripMs: number; tracedStep: PhaseSample[] }> {
  const trace = gpu.startTrace();
  let tracedStep: PhaseSample[];
  try {
    tracedStep = await runStep(gpu, c, false, trace);
  } finally {
    gpu.stopTrace();
  }
  const replayer = new DispatchReplayer(gpu.context.device);
  try {
    const roundTripMs = await replayer.roundTripMs(Math.max(15, reps * 3));
    const timed = await replayer.timeTrace(trace.events, reps);
    const times = timed.map((t) => ({
      dispatch: t.dispatch,
      ms: Math.max(0, t.medianMs - (t.single ? roundTripMs : roundTripMs / reps)),
    }));
    return { times, roundTripMs, tracedStep };
  } finally {
    replayer.destroy();
  }
}

export interface KernelRow {
  key: string;
  calls: number;
  ms: number;
  /** Floating-point operations where the kernel's params make them cheap to count (matmul). */
  flops?: number;
  bytes: number;
}

/** The kernel's name, with its op for the elementwise and reduction kernels (`binary add`, `unary gelu`). */
export function kernelKey(d: TracedDispatch): string {
  const op = (d.params as { op?: unknown }).op;
  return typeof op === 'string' ? `${d.kernel} ${op}` : d.kernel;
}

export function flopsOf(d: TracedDispatch): number | undefined {
  if (d.kernel !== 'matmul') return undefined;
  const p = d.params as { batch: number; M: number; N: number; K: number };
  return 2 * p.batch * p.M * p.N * p.K;
}

/** Sums kernel times by `keyOf`, slowest first. */
export function aggregate(times: readonly KernelTime[], keyOf: (d: TracedDispatch) => string): KernelRow[] {
  const rows = new Map<string, KernelRow>();
  for (const { dispatch: d, ms } of times) {
    const key = keyOf(d);
    const row = rows.get(key) ?? { key, calls: 0, ms: 0, bytes: 0 };
    row.calls++;
    row.ms += ms;
    row.bytes += d.bytes;
    const flops = flopsOf(d);
    if (flops !== undefined) row.flops = (row.flops ?? 0) + flops;
    rows.set(key, row);
  }
  return [...rows.values()].sort((a, b) => b.ms - a.ms);
}
