import { isUtf8 } from 'node:buffer';
/**
 * @file Reading the user's text files (CoNLL, raw text to tag, pretraining text) as UTF-8, never silently: bytes
 * that are not UTF-8 (a Latin-1 file, say) become U+FFFD, and the reader is told how many and where, so that
 * the words it trains on or tags are not quietly different from the file's.
 */
import { readFileSync } from 'node:fs';

/** What was replaced in a file that is not valid UTF-8. */
export interface InvalidUtf8 {
  path: string;
  /** Bytes replaced by U+FFFD. */
  bytes: number;
  /** 1-based line of the first replacement (null when the file also holds real U+FFFD characters). */
  firstLine: number | null;
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

/** What was found: the file, how many bytes, the first line. */
export function describeInvalidUtf8(info: InvalidUtf8): string {
  return `${info.path}: ${info.bytes} byte${info.bytes === 1 ? ' is' : 's are'} not valid UTF-8${info.firstLine ? ` (the first on line ${info.firstLine})` : ''}`;
}

const CONVERT = 'convert the file to UTF-8, e.g. iconv -f latin1 -t utf-8';

/** The file as a UTF-8 string; bytes that are not UTF-8 are reported as `onInvalid` says. */
export function readTextFile(path: string, options: ReadTextOptions = {}): string {
  const bytes = readFileSync(path);
  const text = bytes.toString('utf8');
  if (isUtf8(bytes)) return text;
  // Valid sequences round-trip byte for byte, each replacement is 3 bytes: the rest is what was replaced.
  const real = count(bytes, REPLACEMENT_BYTES);
  const added = count(text, REPLACEMENT) - real;
  const info: InvalidUtf8 = {
    path,
    bytes: bytes.length - (Buffer.byteLength(text, 'utf8') - 3 * added),
    firstLine: real === 0 ? text.slice(0, text.indexOf(REPLACEMENT)).split('\n').length : null,
  };
  const onInvalid = options.onInvalid ?? 'warn';
  if (onInvalid === 'error') throw new Error(`${describeInvalidUtf8(info)}; expected UTF-8 (${CONVERT})`);
  if (onInvalid === 'warn')
    process.stderr.write(`warning: ${describeInvalidUtf8(info)}; they were read as U+FFFD (${CONVERT})\n`);
  else onInvalid(info);
  return text;
}
