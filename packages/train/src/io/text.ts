import { isUtf8 } from 'node:buffer';
/**
 * @file Reading the user's text files (CoNLL, raw text to tag, pretraining text) as UTF-8, never silently: bytes
 * that are not UTF-8 (a Latin-1 file, say) become U+FFFD, and the reader is told how many and where (line and
 * byte offset), so that the words it trains on or tags are not quietly different from the file's. Files the
 * program writes itself (JSON, logs) are read with `decodeUtf8Strict`: there, any bad byte is an error.
 */
import { readFileBytes } from './read-file.ts';

/** What was replaced in a file that is not valid UTF-8. */
export interface InvalidUtf8 {
  path: string;
  /** Bytes replaced by U+FFFD. */
  bytes: number;
  /** 1-based line of the first replacement (null when the file also holds real U+FFFD characters). */
  firstLine: number | null;
  /** 0-based byte offset of the first byte that is not UTF-8. */
  firstOffset: number;
}

export interface ReadTextOptions {
  /**
   * On bytes that are not UTF-8: `warn` (the default) writes one line on stderr and goes on with U+FFFD in their
   * place; `error` refuses the file; a function is told and decides.
   */
  onInvalid?: 'warn' | 'error' | ((info: InvalidUtf8) => void);
}

const REPLACEMENT = '\uFFFD';
/** U+FFFD in UTF-8, to tell a real one in the file from one the decoder put in. */
const REPLACEMENT_BYTES = Buffer.from(REPLACEMENT, 'utf8');

function count(haystack: string | Buffer, needle: string | Buffer): number {
  let n = 0;
  for (let at = haystack.indexOf(needle as never); at >= 0; at = haystack.indexOf(needle as never, at + 1))
    n++;
  return n;
}

/** What was found: the file, how many bytes, where the first is. */
export function describeInvalidUtf8(info: InvalidUtf8): string {
  const line = info.firstLine ? `line ${info.firstLine}, ` : '';
  return `${info.path}: ${info.bytes} byte${info.bytes === 1 ? ' is' : 's are'} not valid UTF-8 (the first at ${line}byte offset ${info.firstOffset})`;
}

// Allowed range of the second byte after each lead byte (RFC 3629 table 3-7); later bytes are 80..BF.
function secondByteRange(lead: number): [number, number, number] | null {
  if (lead >= 0xc2 && lead <= 0xdf) return [0x80, 0xbf, 1];
  if (lead === 0xe0) return [0xa0, 0xbf, 2];
  if (lead === 0xed) return [0x80, 0x9f, 2];
  if (lead >= 0xe1 && lead <= 0xef) return [0x80, 0xbf, 2];
  if (lead === 0xf0) return [0x90, 0xbf, 3];
  if (lead >= 0xf1 && lead <= 0xf3) return [0x80, 0xbf, 3];
  if (lead === 0xf4) return [0x80, 0x8f, 3];
  return null;
}

/** The offset of the first byte of `bytes` that starts no valid UTF-8 sequence, or -1 when all is UTF-8. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  if (isUtf8(bytes)) return -1;
  for (let i = 0; i < bytes.length; ) {
    const lead = bytes[i];
    if (lead < 0x80) {
      i++;
      continue;
    }
    const range = secondByteRange(lead);
    if (range === null) return i;
    const [lo, hi, more] = range;
    if (!(bytes[i + 1] >= lo && bytes[i + 1] <= hi)) return i;
    for (let k = 2; k <= more; k++) if (!(bytes[i + k] >= 0x80 && bytes[i + k] <= 0xbf)) return i;
    i += more + 1;
  }
  return -1;
}

/** Strict UTF-8 for the files the program itself writes (JSON, logs): an error naming file, byte and line. */
export function decodeUtf8Strict(bytes: Uint8Array, path: string): string {
  const bad = firstInvalidUtf8(bytes);
  if (bad < 0) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  let line = 1;
  for (let i = 0; i < bad; i++) if (bytes[i] === 0x0a) line++;
  const hex = bytes[bad].toString(16).toUpperCase().padStart(2, '0');
  throw new Error(
    `${path}: invalid UTF-8 at byte offset ${bad} (line ${line}, byte 0x${hex}); expected UTF-8 text`,
  );
}

const CONVERT = 'convert the file to UTF-8, e.g. iconv -f latin1 -t utf-8';

/** The file as a UTF-8 string; bytes that are not UTF-8 are reported as `onInvalid` says. */
export function readTextFile(path: string, options: ReadTextOptions = {}): string {
  const bytes = readFileBytes(path);
  const text = bytes.toString('utf8');
  if (isUtf8(bytes)) return text;
  // Valid sequences round-trip byte for byte, each replacement is 3 bytes: the rest is what was replaced.
  const real = count(bytes, REPLACEMENT_BYTES);
  const added = count(text, REPLACEMENT) - real;
  const info: InvalidUtf8 = {
    path,
    bytes: bytes.length - (Buffer.byteLength(text, 'utf8') - 3 * added),
    firstLine: real === 0 ? text.slice(0, text.indexOf(REPLACEMENT)).split('\n').length : null,
    firstOffset: firstInvalidUtf8(bytes),
  };
  const onInvalid = options.onInvalid ?? 'warn';
  if (onInvalid === 'error') throw new Error(`${describeInvalidUtf8(info)}; expected UTF-8 (${CONVERT})`);
  if (onInvalid === 'warn')
    process.stderr.write(`warning: ${describeInvalidUtf8(info)}; they were read as U+FFFD (${CONVERT})\n`);
  else onInvalid(info);
  return text;
}
