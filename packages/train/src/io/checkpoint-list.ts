/**
 * @file Finding checkpoints in a run directory, for resume. Convention: periodic checkpoints are
 * subdirectories named `step-000123` (see `checkpointName`); other names (`best`, `last`) are allowed and
 * take their step from `trainer.json`'s numeric `step`, if any. The latest checkpoint is the one with the
 * highest step; on a tie a `step-*` name wins over a named one (it sorts later), which holds the same state.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { resolveAtomicDir } from './atomic-dir.ts';
import { CHECKPOINT_FILES } from './checkpoint.ts';
import { readJsonFile } from './validate.ts';

export interface CheckpointEntry {
  /** Directory name inside the run directory, e.g. `step-000123` or `best`. */
  name: string;
  /** The directory to load (a `.old-*` copy if a save of it was interrupted mid-swap). */
  path: string;
  step: number | null;
}

const STEP_DIR = /^step-(\d+)$/;
// Leftovers of interrupted saves (see atomic-dir.ts): `<name>.tmp-<pid>-<hex>` / `<name>.old-<pid>-<hex>`.
const LEFTOVER = /^(.+)\.(tmp|old)-\d+-[0-9a-f]+$/;

/** The directory name for the checkpoint at `step`: `step-000123` (zero-padded to 6, wider if needed). */
export function checkpointName(step: number): string {
  if (!Number.isSafeInteger(step) || step < 0) throw new Error(`checkpointName: bad step ${step}`);
  return `step-${String(step).padStart(6, '0')}`;
}

function trainerStep(dir: string): number | null {
  try {
    const trainer = readJsonFile(join(dir, CHECKPOINT_FILES.trainer), { maxBytes: 64 * 2 ** 20 });
    const step = (trainer as { step?: unknown } | null)?.step;
    // Only a count orders checkpoints; anything else is left to resume's own check, which names the file.
    return Number.isSafeInteger(step) && (step as number) >= 0 ? (step as number) : null;
  } catch {
    return null;
  }
}

/** Complete checkpoints in `runDir` (those with a weights file), by step ascending, unknown steps first. */
export function listCheckpoints(runDir: string): CheckpointEntry[] {
  const root = resolve(runDir);
  if (!existsSync(root)) return [];
  const names = new Set<string>();
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    // An interrupted swap leaves only `<name>.old-*`; resolveAtomicDir finds it under `<name>`.
    const leftover = LEFTOVER.exec(entry.name);
    names.add(leftover ? leftover[1] : entry.name);
  }
  const found: CheckpointEntry[] = [];
  for (const name of names) {
    const path = resolveAtomicDir(join(root, name));
    if (path === null || !existsSync(join(path, CHECKPOINT_FILES.weights))) continue;
    const m = STEP_DIR.exec(name);
    found.push({ name, path, step: m ? Number(m[1]) : trainerStep(path) });
  }
  const key = (e: CheckpointEntry) => e.step ?? Number.NEGATIVE_INFINITY;
  return found.sort((a, b) => key(a) - key(b) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Path of the checkpoint with the highest step in `runDir`, or null if there is none. */
export function latestCheckpoint(runDir: string): string | null {
  const withStep = listCheckpoints(runDir).filter((e) => e.step !== null);
  return withStep.length > 0 ? withStep[withStep.length - 1].path : null;
}

/** Delete all but the newest `keep` `step-*` checkpoints (named ones are kept). Returns the removed paths. */
export function pruneCheckpoints(runDir: string, keep: number): string[] {
  if (!Number.isSafeInteger(keep) || keep < 0) throw new Error(`pruneCheckpoints: bad keep ${keep}`);
  const periodic = listCheckpoints(runDir).filter((e) => STEP_DIR.test(e.name));
  const doomed = periodic.slice(0, Math.max(0, periodic.length - keep));
  for (const e of doomed) rmSync(e.path, { recursive: true, force: true });
  return doomed.map((e) => e.path);
}
