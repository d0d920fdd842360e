/**
 * @file Atomic directory replacement: fill a `<dir>.tmp-*` sibling, then swap it in with two renames
 * (`dir` -> `<dir>.old-*`, tmp -> `dir`) and delete the old one. A crash at any point leaves a complete old or
 * new directory: before the first rename `dir` is the old one; between the renames `dir` is missing and the
 * `.old-*` sibling is the complete old one (readers fall back to it, the next write renames it back); after
 * the second rename `dir` is the new one. Assumes one writer per directory.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fsyncDir, siblingName } from './atomic.ts';

/** Leftovers of interrupted writes of `dir`, by kind, newest first. */
function leftovers(dir: string): { tmp: string[]; old: string[] } {
  const parent = dirname(dir);
  const base = basename(dir);
  const found = { tmp: [] as string[], old: [] as string[] };
  if (!existsSync(parent)) return found;
  for (const name of readdirSync(parent)) {
    if (name.startsWith(`${base}.tmp-`)) found.tmp.push(join(parent, name));
    else if (name.startsWith(`${base}.old-`)) found.old.push(join(parent, name));
  }
  const newestFirst = (a: string, b: string) => statSync(b).mtimeMs - statSync(a).mtimeMs;
  found.old.sort(newestFirst);
  return found;
}

/**
 * The directory to read for `dir`: `dir` itself, or, if a swap was interrupted between its renames, the
 * complete old copy. Null when neither exists. Never modifies anything, so readers may call it.
 */
export function resolveAtomicDir(dir: string): string | null {
  const target = resolve(dir);
  if (existsSync(target)) return target;
  return leftovers(target).old[0] ?? null;
}

/**
 * Repair what interrupted writes of `dir` left behind: put back the old copy if the swap stopped between its
 * renames, and delete unfinished temp copies and stale old copies. Only the writer should call this.
 */
export function recoverAtomicDir(dir: string): void {
  const target = resolve(dir);
  const { tmp, old } = leftovers(target);
  if (!existsSync(target) && old.length > 0) {
    renameSync(old.shift()!, target);
    fsyncDir(dirname(target));
  }
  for (const p of [...tmp, ...old]) rmSync(p, { recursive: true, force: true });
}

export interface WriteDirOptions {
  /** Called on an existing `dir` before it is replaced; return a reason to refuse (e.g. "not a checkpoint"). */
  refuseReplacing?: (dir: string) => string | null;
}

/**
 * Create or replace the directory `dir` atomically with what `fill` writes into the empty temp directory
 * it is given. If `fill` throws, the temp directory is removed and `dir` is untouched.
 */
export function writeDirAtomic(
  dir: string,
  fill: (tmpDir: string) => void,
  options: WriteDirOptions = {},
): void {
  const target = resolve(dir);
  const parent = dirname(target);
  mkdirSync(parent, { recursive: true });
  recoverAtomicDir(target);
  if (existsSync(target)) {
    if (!statSync(target).isDirectory()) throw new Error(`${target} exists and is not a directory`);
    const reason = options.refuseReplacing?.(target);
    if (reason) throw new Error(`refusing to replace ${target}: ${reason}`);
  }

  const tmp = siblingName(target, 'tmp');
  mkdirSync(tmp);
  try {
    fill(tmp);
    fsyncDir(tmp);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }

  if (!existsSync(target)) {
    renameSync(tmp, target);
    fsyncDir(parent);
    return;
  }
  const old = siblingName(target, 'old');
  let moved = false;
  try {
    renameSync(target, old);
    moved = true;
    renameSync(tmp, target);
  } catch (e) {
    if (moved) renameSync(old, target);
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  fsyncDir(parent);
  rmSync(old, { recursive: true, force: true });
}
