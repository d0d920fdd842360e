/**
 * @file The training loop shared by pretraining and fine-tuning: one optimizer step per batch (zero grads,
 * forward, backward, AdamW with clipping), throughput, periodic work (evaluation, checkpoints), and a clean
 * stop when the user presses Ctrl-C (the caller saves a checkpoint; a second Ctrl-C exits at once).
 */
import { type AdamW, type Tensor, keep, tidy } from '@reprise/core';
import type { MetricsLog } from '../io/index.ts';
import type { EventSink } from './events.ts';

export interface StepInfo {
  step: number;
  totalSteps: number;
  loss: number;
  lr: number;
  tokensPerSecond: number;
}

export interface StepLoopOptions {
  optimizer: AdamW;
  /** 0-based steps run: startStep .. totalSteps − 1. */
  startStep: number;
  totalSteps: number;
  /**
   * The loss of step `step` (a scalar on the graph) and the tokens it covered; `backpropagated` when lossAt
   * already ran the backward pass itself (a batch run in several passes), so the loop must not.
   */
  lossAt(step: number): { loss: Tensor; tokens: number; backpropagated?: boolean };
  onStep?(info: StepInfo): void;
  /** Runs after each step (with the number of steps done); the loop waits for it and ends early on 'stop'. */
  afterStep?(stepsDone: number): Promise<unknown>;
}

/** The exit code of an interrupted command: 128 + SIGINT, the shell's convention. */
export const EXIT_INTERRUPTED = 130;

let interruptRequested = false;

export interface InterruptHandlers {
  /** The first Ctrl-C: loops stop after the current step and their caller saves a checkpoint. */
  onFirst?(): void;
  /** The second Ctrl-C, just before the process exits with 130 (e.g. to restore the terminal). */
  onSecond?(): void;
}

/** Ctrl-C asks running loops to stop after the current step; a second Ctrl-C exits at once with code 130. */
export function installInterruptHandler(handlers: InterruptHandlers = {}): void {
  process.on('SIGINT', () => {
    if (interruptRequested) {
      handlers.onSecond?.();
      // A checkpoint write in progress is atomic: the last good one stays, a temp copy is cleaned up later.
      process.exit(EXIT_INTERRUPTED);
    }
    interruptRequested = true;
    handlers.onFirst?.();
  });
}

export const isInterrupted = () => interruptRequested;
/** Tests simulate Ctrl-C with this. */
export function requestInterrupt(on = true): void {
  interruptRequested = on;
}

/**
 * Lets pending I/O and signal handlers run. Awaiting an already-resolved promise (the CPU backend's results)
 * only drains microtasks, so a loop on the CPU would never see Ctrl-C; a macrotask turn costs microseconds.
 */
export const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Runs the steps; returns the number of steps done (less than totalSteps when interrupted or stopped early). */
export async function runSteps(o: StepLoopOptions): Promise<number> {
  let window = { start: performance.now(), tokens: 0 };
  for (let step = o.startStep; step < o.totalSteps; step++) {
    await yieldToEventLoop();
    if (interruptRequested) return step;
    const lr = o.optimizer.lr;
    let tokens = 0;
    const loss = tidy(() => {
      o.optimizer.zeroGrad();
      const out = o.lossAt(step);
      tokens = out.tokens;
      if (!out.backpropagated) out.loss.backward();
      o.optimizer.step();
      return keep(out.loss.detach());
    });
    const value = await loss.item();
    loss.dispose();
    if (!Number.isFinite(value))
      throw new Error(`training diverged: the loss at step ${step + 1} is ${value}`);
    window.tokens += tokens;
    const seconds = (performance.now() - window.start) / 1000;
    o.onStep?.({
      step: step + 1,
      totalSteps: o.totalSteps,
      loss: value,
      lr,
      tokensPerSecond: window.tokens / seconds,
    });
    if (seconds > 30) window = { start: performance.now(), tokens: 0 };
    if ((await o.afterStep?.(step + 1)) === 'stop') return step + 1;
  }
  return o.totalSteps;
}

/** One step's record in the run's metrics log, and its event for the progress display. */
export function recordStep(log: MetricsLog, phase: string, info: StepInfo, onEvent: EventSink): void {
  log.log({ phase, step: info.step, loss: info.loss, lr: info.lr, tokens_per_s: info.tokensPerSecond });
  onEvent({ type: 'step', ...info });
}
