/**
 * @file Reading a whole file with errors that name it: a missing file, a directory where a file belongs and a
 * file too large to be what it claims are each refused as such, before any byte is read.
 */
import { readFileSync, statSync } from 'node:fs';

export interface ReadFileOptions {
  /** What the file is, for messages: "checkpoint config", "metrics log"... */
  what?: string;
  /** Refuse files larger than this many bytes (default: no limit beyond Node's own). */
  maxBytes?: number;
}

const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

/** The size of the regular file at `path`; a missing file, a directory or anything else is refused as such. */
export function regularFileSize(path: string, what = ''): number {
  const prefix = what ? `${what} ` : '';
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw new Error(`${prefix}${path} is a directory; expected a file here`);
    if (!st.isFile()) throw new Error(`${prefix}${path} is not a regular file`);
    return st.size;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`${prefix}${path} does not exist`);
    if (code !== undefined) throw new Error(`${prefix}${path}: cannot read (${code})`);
    throw e;
  }
}

export function readFileBytes(path: string, options: ReadFileOptions = {}): Buffer {
  const what = options.what ? `${options.what} ` : '';
  const size = regularFileSize(path, options.what);
  if (options.maxBytes !== undefined && size > options.maxBytes)
    throw new Error(`${what}${path} is ${mib(size)}; expected at most ${mib(options.maxBytes)}`);
  try {
    return readFileSync(path);
  } catch (e) {
    throw new Error(
      `${what}${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
}
