/**
 * @file A run directory (`--out`) is never overwritten by accident: one that already holds a run is refused
 * unless the user resumes it or asks to start over, and starting over moves the old run aside (renamed to
 * `<dir>.replaced-<time>`), never deletes it. Creating the directory reports the real reason it failed
 * (read-only file system, permission), which Node's recursive mkdir hides behind ENOENT.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** Entries whose presence means a directory holds a run (or the remains of an atomic write of one). */
const RUN_ENTRIES = ['metrics.jsonl', 'final', 'best', 'last', 'checkpoints', 'results.json', 'loss.svg'];

/** What in `dir` shows it holds a run; empty when it does not (missing, empty, or unrelated files). */
export function runContents(dir: string): string[] {
  if (!existsSync(dir)) return [];
  if (!statSync(dir).isDirectory()) throw new Error(`--out ${dir} exists and is not a directory`);
  // `final.old-…`/`best.tmp-…` are a checkpoint caught between its renames: still part of the run.
  return readdirSync(dir).filter((name) => RUN_ENTRIES.includes(name.replace(/\.(tmp|old)-.*$/, '')));
}

export interface RunDirChoice {
  /** Continue the run in the directory. */
  resume: boolean;
  /** Move an existing run aside and start a new one. */
  overwrite: boolean;
  /** The command, for the message (`pretrain`, `finetune`). */
  command: string;
  /** Whether the directory holds something `--resume` can continue from (a checkpoint). */
  canResume?: boolean;
}

/**
 * Refuses to start a new run in a directory that holds one, before anything is written: the message names the
 * directory, what is in it, and the two ways on. Writes nothing, so call it before any other work.
 */
export function checkRunDir(dir: string, choice: RunDirChoice): void {
  if (choice.resume && choice.overwrite)
    throw new Error('--resume continues the run in --out and --overwrite replaces it: give one of them');
  if (choice.overwrite) return;
  const found = runContents(dir);
  if (choice.resume) {
    // Resuming a run with no checkpoint would start a new one over it.
    if (choice.canResume === false && found.length > 0)
      throw new Error(
        `--resume: --out ${dir} holds a run (${found.sort().join(', ')}) but no checkpoint to continue from; start over with --overwrite (the old run is moved aside, not deleted) or choose another --out`,
      );
    return;
  }
  if (found.length > 0)
    throw new Error(
      `--out ${dir} already holds a run (${found.sort().join(', ')}); ${choice.command} never overwrites one. Continue it with --resume, start over with --overwrite (the old run is moved aside to ${dir}.replaced-<time>, not deleted), or choose another --out`,
    );
}

/**
 * Makes `dir` ready for the run: with `overwrite`, an existing run is renamed to `<dir>.replaced-<time>`
 * (returned, so the caller can say where it went); then the directory is created. Null when nothing moved.
 */
export function prepareRunDir(dir: string, choice: RunDirChoice): string | null {
  checkRunDir(dir, choice);
  let movedTo: string | null = null;
  if (choice.overwrite && runContents(dir).length > 0) {
    movedTo = `${resolve(dir)}.replaced-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    try {
      renameSync(dir, movedTo);
    } catch (e) {
      throw new Error(`--overwrite: cannot move the old run ${dir} aside to ${movedTo}: ${reason(e)}`);
    }
  }
  makeDir(dir, '--out');
  return movedTo;
}

/**
 * Removes `dir` if it is empty: a run that failed before writing anything (an r too large for the device, say)
 * leaves no empty --out behind. Never removes anything with content.
 */
export function discardEmptyRunDir(dir: string): void {
  try {
    if (readdirSync(dir).length === 0) rmdirSync(dir);
  } catch {
    // Missing or unreadable: nothing to clean up.
  }
}

/** `mkdir -p dir`, failing with the real reason and the path that could not be made (`what` names the option). */
export function makeDir(dir: string, what: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    return;
  } catch (e) {
    // Node's recursive mkdir reports ENOENT for a read-only or unwritable parent: retry one level at a time,
    // from the deepest existing ancestor, so that the failing mkdir tells the truth.
    const missing: string[] = [];
    for (let p = resolve(dir); !existsSync(p) && p !== dirname(p); p = dirname(p)) missing.unshift(p);
    for (const p of missing) {
      try {
        mkdirSync(p);
      } catch (inner) {
        throw new Error(`cannot create ${what} ${dir}: ${reason(inner)}`);
      }
    }
    throw new Error(`cannot create ${what} ${dir}: ${reason(e)}`);
  }
}

/** "read-only file system (EROFS) at /x/y" from a Node system error. */
function reason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (!err.code) return err.message;
  const text = err.message.replace(/^\w+: /, '').replace(/, \w+ '.*'$/, '');
  return `${text} (${err.code})${err.path ? ` at ${err.path}` : ''}`;
}
