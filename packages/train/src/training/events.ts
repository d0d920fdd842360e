/**
 * @file What training reports while it runs; the CLI turns these into progress bars, the tests ignore them.
 */
import type { StepInfo } from './loop.ts';

export type TrainingEvent =
  | { type: 'phase'; name: string; totalSteps: number; startStep: number }
  | ({ type: 'step' } & StepInfo)
  | { type: 'eval'; step: number; epoch?: number; metrics: Record<string, number> }
  | { type: 'checkpoint'; path: string; reason: 'periodic' | 'interrupt' | 'best' | 'final' }
  | { type: 'log'; message: string }
  /** An experiment grid's position: runs done of total, the run starting now, the time left (null: unknown). */
  | { type: 'grid'; done: number; total: number; current: string; etaSeconds: number | null };

export type EventSink = (event: TrainingEvent) => void;
