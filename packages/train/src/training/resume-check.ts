/**
 * @file Resume refuses a damaged checkpoint: trainer.json must match its schema, and trainer state, optimizer
 * state and weights must agree (step counts, tensor names, shapes, dtypes). A refusal says which file is wrong
 * and names the previous checkpoint to resume from instead, when the run kept one.
 */
import { basename, dirname, join } from 'node:path';
import type { z } from 'zod';
import { CHECKPOINT_FILES, type Checkpoint, type HostTensor, listCheckpoints } from '../io/index.ts';
import { parseWith } from '../io/validate.ts';

const fmtShape = (shape: readonly number[]) => `[${shape.join(', ')}]`;
const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const STEP_DIR = /^step-(\d+)$/;
// Enough of a list to see the pattern without burying the message.
const MAX_LISTED = 5;

function listProblems(file: string, problems: string[]): void {
  if (problems.length === 0) return;
  const more = problems.length > MAX_LISTED ? `; and ${problems.length - MAX_LISTED} more` : '';
  throw new Error(`${file} does not match the weights: ${problems.slice(0, MAX_LISTED).join('; ')}${more}`);
}

/**
 * The optimizer state must hold `step` (I32 [1], equal to trainer.json's step) and, for every parameter the
 * optimizer trains (`params`, all weights by default), its moments `<name>.m` and `<name>.v` (F32, one value per
 * weight element). Before the first step AdamW has no moments yet, so a step-0 checkpoint holds none; after it
 * every parameter has both (`optimizerToHost` writes zeros for one that has had no gradient yet).
 */
export function checkOptimizerState(
  file: string,
  optimizer: Record<string, HostTensor>,
  weights: Record<string, HostTensor>,
  step: number,
  params: readonly string[] = Object.keys(weights),
): void {
  const trained = new Set(params);
  const problems: string[] = [];
  const s = optimizer.step;
  if (!Object.hasOwn(optimizer, 'step')) problems.push(`the step count 'step' is missing`);
  else if (s.dtype !== 'I32' || s.shape.length !== 1 || s.shape[0] !== 1)
    problems.push(`'step' must be I32 [1], found ${s.dtype} ${fmtShape(s.shape)}`);
  else if (s.data[0] !== step) problems.push(`'step' is ${s.data[0]} but trainer.json's step is ${step}`);
  for (const [name, t] of Object.entries(optimizer)) {
    if (name === 'step') continue;
    const m = /^(.*)\.(m|v)$/.exec(name);
    const weight = m && trained.has(m[1]) && Object.hasOwn(weights, m[1]) ? weights[m[1]] : undefined;
    if (!weight) {
      problems.push(`tensor '${name.slice(0, 80)}' is the moment of no trained weight`);
      continue;
    }
    if (t.dtype !== 'F32') problems.push(`'${name}' must be F32, found ${t.dtype}`);
    const n = numel(weight.shape);
    if (t.shape.length !== 1 || t.shape[0] !== n)
      problems.push(
        `'${name}' must be [${n}] (the weight is ${fmtShape(weight.shape)}), found ${fmtShape(t.shape)}`,
      );
  }
  for (const name of trained) {
    if (!Object.hasOwn(weights, name)) {
      problems.push(`the trained parameter '${name}' has no weight`);
      continue;
    }
    for (const k of ['m', 'v']) {
      const has = Object.hasOwn(optimizer, `${name}.${k}`);
      if (step > 0 && !has) problems.push(`the moment '${name}.${k}' is missing`);
      if (step === 0 && has) problems.push(`'${name}.${k}' is present at step 0, before any update`);
    }
  }
  listProblems(file, problems);
}

/** Validates trainer.json and the optimizer state of a loaded checkpoint against its weights. */
export function checkResumeState<S extends z.ZodType<{ step: number }>>(
  dir: string,
  checkpoint: Checkpoint,
  trainerSchema: S,
  params?: readonly string[],
): z.output<S> {
  const trainerFile = join(dir, CHECKPOINT_FILES.trainer);
  const optimizerFile = join(dir, CHECKPOINT_FILES.optimizer);
  if (checkpoint.trainer === undefined) throw new Error(`${trainerFile} is missing (it is needed to resume)`);
  const trainer = parseWith(trainerSchema, checkpoint.trainer, trainerFile);
  const named = STEP_DIR.exec(basename(dir));
  if (named && Number(named[1]) !== trainer.step)
    throw new Error(`${trainerFile}: step is ${trainer.step} but the directory is ${basename(dir)}`);
  if (checkpoint.optimizer === undefined)
    throw new Error(`${optimizerFile} is missing (it is needed to resume)`);
  checkOptimizerState(optimizerFile, checkpoint.optimizer, checkpoint.weights, trainer.step, params);
  return trainer;
}

/** What to do instead of resuming from the damaged `dir`: the previous checkpoint of the run, by name. */
export function previousCheckpointHint(dir: string): string {
  const entries = listCheckpoints(dirname(dir));
  const i = entries.findIndex((e) => e.path === dir || join(dirname(dir), e.name) === dir);
  const previous = i > 0 ? entries[i - 1] : undefined;
  const aside = join(dirname(dirname(dir)), `${basename(dir)}.damaged`);
  if (previous?.step != null)
    return `the previous checkpoint ${previous.path} (step ${previous.step}) can be used instead: move the damaged one out of the way (mv ${dir} ${aside}) and resume again`;
  return 'no earlier checkpoint of this run is kept: start the run again without --resume';
}

/**
 * Loads the checkpoint at `dir` with `load` and checks that it can be resumed from; any refusal (of a file, or
 * of files that disagree) says `cannot resume from <dir>` and names the checkpoint to use instead. `params`
 * names the parameters the optimizer trains (default: every weight).
 */
export function loadForResume<L extends { checkpoint: Checkpoint }, S extends z.ZodType<{ step: number }>>(
  dir: string,
  load: (dir: string) => L,
  trainerSchema: S,
  params?: (loaded: L) => readonly string[],
): L & { trainer: z.output<S> } {
  let loaded: L | undefined;
  try {
    loaded = load(dir);
    const trainer = checkResumeState(dir, loaded.checkpoint, trainerSchema, params?.(loaded));
    return { ...loaded, trainer };
  } catch (e) {
    // The model may already be on the device; it is not used.
    const built = loaded as Record<string, { dispose?(): void } | undefined> | undefined;
    built?.model?.dispose?.();
    built?.labeler?.dispose?.();
    throw new Error(`cannot resume from ${dir}: ${(e as Error).message}; ${previousCheckpointHint(dir)}`);
  }
}
