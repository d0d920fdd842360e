/**
 * @file Atomic file writes: write a temp file beside the target, fsync it, rename it over the target. A reader
 * (or a process restarted after a crash) sees the old file or the new one, never a partial one.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/** A unique sibling name for `path` carrying `tag` (`tmp`, `old`): same directory, so rename stays atomic. */
export function siblingName(path: string, tag: string): string {
  return `${path}.${tag}-${process.pid}-${randomBytes(6).toString('hex')}`;
}

/** Flush a directory's entries (the renames in it) to disk. Best effort: not every platform can open one. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Windows cannot fsync a directory; the rename is still atomic, just not yet durable.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Replace `path` with `data` atomically. On any error the temp file is removed and `path` is untouched. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = siblingName(path, 'tmp');
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx');
    for (let at = 0; at < bytes.byteLength; ) at += writeSync(fd, bytes, at, bytes.byteLength - at);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    try {
      if (fd !== undefined) closeSync(fd);
      rmSync(tmp, { force: true });
    } catch {
      // Keep the original error; a leftover temp file never shadows `path`.
    }
    throw e;
  }
  fsyncDir(dirname(path));
}

/** `writeFileAtomic` of pretty-printed JSON with a final newline. */
export function writeJsonAtomic(path: string, value: unknown): void {
  const text = JSON.stringify(value, null, 2);
  if (text === undefined) throw new Error(`writeJsonAtomic ${path}: value is not JSON-serializable`);
  writeFileAtomic(path, `${text}\n`);
}
