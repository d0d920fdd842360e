/**
 * @file Shared validation for every file the program reads: bounded JSON parsing and zod schemas, with errors
 * that name the file and the JSON path, say what was expected and what was found, and quote at most
 * `QUOTE_LIMIT` characters of a bad value.
 *
 * Why zod (v4): schemas are declared once and the TypeScript types of the files are inferred from them;
 * strict objects report unknown keys (we add the closest valid key); refinements carry relations between
 * fields; issues come with the JSON path and the offending input. It recurses along the schema, never deeper
 * than the schema, and nesting in the input is bounded here before `JSON.parse` and before any schema runs.
 */
import { closest } from 'fastest-levenshtein';
import { z } from 'zod';
import { type ReadFileOptions, readFileBytes } from './read-file.ts';
import { decodeUtf8Strict } from './text.ts';

/** The most characters of a bad value quoted in a message. */
export const QUOTE_LIMIT = 200;
/** Default nesting bound for JSON files (ours nest at most ~6 deep). */
export const JSON_DEPTH_LIMIT = 64;
/** Issues listed in one error; the rest are counted. */
const MAX_ISSUES = 5;

/** A file that is malformed: `file` is its path (or the name of its source). */
export class InvalidFileError extends Error {
  override name = 'InvalidFileError';
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A short, bounded rendering of any value: JSON-like, cut at `limit` characters with "…". Never recurses
 * deeper than `limit` (each level writes a character) and never walks more of a big value than it prints.
 */
export function quote(value: unknown, limit = QUOTE_LIMIT): string {
  let out = '';
  const full = () => out.length >= limit;
  const put = (s: string) => {
    out += s;
  };
  const walk = (v: unknown): void => {
    if (full()) return;
    if (typeof v === 'string') put(JSON.stringify(v.length > limit ? v.slice(0, limit) : v));
    else if (typeof v === 'number' || typeof v === 'boolean' || v === null) put(String(v));
    else if (typeof v === 'bigint') put(`${v}n`);
    else if (v === undefined) put('undefined');
    else if (Array.isArray(v)) {
      put('[');
      for (let i = 0; i < v.length && !full(); i++) {
        if (i > 0) put(',');
        walk(v[i]);
      }
      put(']');
    } else if (typeof v === 'object') {
      put('{');
      let first = true;
      for (const k in v as object) {
        if (full()) break;
        if (!Object.hasOwn(v as object, k)) continue;
        if (!first) put(',');
        first = false;
        put(`${JSON.stringify(k.length > limit ? k.slice(0, limit) : k)}:`);
        walk((v as Record<string, unknown>)[k]);
      }
      put('}');
    } else put(typeof v);
  };
  walk(value);
  return out.length > limit ? `${out.slice(0, limit)}…` : out;
}

const IDENT = /^[A-Za-z_$][\w$]*$/;

/** `model.dModel`, `added_tokens[3].id`, `model.vocab["a b"]`; the top level is `(top level)`. */
export function jsonPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && IDENT.test(key)) out += out === '' ? key : `.${key}`;
    else out += `[${quote(String(key), 60)}]`;
  }
  return out === '' ? '(top level)' : out;
}

/** 1-based line and column of a character offset. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    start = i + 1;
  }
  return { line, column: offset - start + 1 };
}

/** Where JSON `text` first nests deeper than `limit` (an offset), or -1: a linear scan, no recursion. */
export function jsonDepthExceeded(text: string, limit: number): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return i;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return -1;
}

export interface ParseJsonOptions {
  maxDepth?: number;
  /** Passed to JSON.parse (safe: nesting is bounded first). */
  reviver?: (key: string, value: unknown) => unknown;
  /** Prefix of messages, e.g. "checkpoint config"; default none. */
  what?: string;
}

/** JSON.parse with the nesting bounded first and errors that name the file and the line. */
export function parseJsonText(text: string, file: string, options: ParseJsonOptions = {}): unknown {
  const what = options.what ? `${options.what} ` : '';
  const limit = options.maxDepth ?? JSON_DEPTH_LIMIT;
  const deep = jsonDepthExceeded(text, limit);
  if (deep >= 0) {
    const { line, column } = lineColumn(text, deep);
    throw new InvalidFileError(
      file,
      `${what}${file}:${line}:${column}: JSON nested more than ${limit} levels deep; expected at most ${limit}`,
    );
  }
  try {
    return JSON.parse(text, options.reviver);
  } catch (e) {
    const msg = (e as Error).message;
    const at = /position (\d+)/.exec(msg);
    const where = at ? `:${Object.values(lineColumn(text, Number(at[1]))).join(':')}` : '';
    throw new InvalidFileError(file, `${what}${file}${where}: not valid JSON (${clip(msg)})`);
  }
}

const clip = (s: string, limit = QUOTE_LIMIT) => (s.length > limit ? `${s.slice(0, limit)}…` : s);

/** Reads `path` (a file, not a directory), decodes strict UTF-8 and parses bounded JSON. */
export function readJsonFile(path: string, options: ParseJsonOptions & ReadFileOptions = {}): unknown {
  const bytes = readFileBytes(path, options);
  let text: string;
  try {
    text = decodeUtf8Strict(bytes, path);
  } catch (e) {
    throw new InvalidFileError(path, `${options.what ? `${options.what} ` : ''}${(e as Error).message}`);
  }
  return parseJsonText(text, path, options);
}

/** A strict object: unknown keys are refused, each with the closest valid key as a hint. */
export function strictObject<S extends z.ZodRawShape>(shape: S) {
  const keys = Object.keys(shape);
  return z.strictObject(shape, {
    error: (iss) => {
      if (iss.code !== 'unrecognized_keys') return undefined;
      const hints = iss.keys.slice(0, MAX_ISSUES).map((k) => {
        const near = keys.length > 0 ? closest(k.slice(0, 100), keys) : undefined;
        return `${quote(k, 60)}${near ? ` (did you mean '${near}'?)` : ''}`;
      });
      const more = iss.keys.length > MAX_ISSUES ? ` and ${iss.keys.length - MAX_ISSUES} more` : '';
      return `unknown key${iss.keys.length > 1 ? 's' : ''} ${hints.join(', ')}${more}; expected only ${keys.join(', ')}`;
    },
  });
}

/** A non-negative safe integer, the type of every count and step in our files. */
export const count = () => z.number().int().nonnegative();

function describeIssue(iss: z.core.$ZodIssue): string {
  const input = (iss as { input?: unknown }).input;
  const hasInput = 'input' in iss;
  switch (iss.code) {
    case 'invalid_type': {
      if (!hasInput || input === undefined) return `missing; expected ${iss.expected}`;
      // A schema's own message says what is expected better than the bare type.
      const expected = iss.message.startsWith('Invalid input') ? `expected ${iss.expected}` : iss.message;
      return `${expected}, found ${quote(input)}`;
    }
    case 'unrecognized_keys':
      return iss.message;
    default: {
      const msg = iss.message.replace(/^(Invalid input|Invalid option|Too small|Too big): /, '');
      if (!hasInput || input === undefined || typeof input === 'object') return msg;
      const found = quote(input);
      return msg.includes(found) ? msg : `${msg}, found ${found}`;
    }
  }
}

/** The issues of a failed parse as one line: `path: problem; path: problem; and N more`. */
export function describeIssues(error: z.ZodError, prefix: readonly PropertyKey[] = []): string {
  const lines = error.issues.slice(0, MAX_ISSUES).map((iss) => {
    const path = [...prefix, ...iss.path];
    return path.length === 0 ? describeIssue(iss) : `${jsonPath(path)}: ${describeIssue(iss)}`;
  });
  const more = error.issues.length > MAX_ISSUES ? `; and ${error.issues.length - MAX_ISSUES} more` : '';
  return `${lines.join('; ')}${more}`;
}

/** `file: path: problem; ...`. */
export function formatIssues(file: string, error: z.ZodError, prefix: readonly PropertyKey[] = []): string {
  return `${file}: ${describeIssues(error, prefix)}`;
}

/** Validates `value` (parsed from `file`) against `schema`, or throws an InvalidFileError listing the issues. */
export function parseWith<S extends z.ZodType>(
  schema: S,
  value: unknown,
  file: string,
  options: { what?: string; prefix?: readonly PropertyKey[] } = {},
): z.output<S> {
  const r = schema.safeParse(value, { reportInput: true });
  if (r.success) return r.data;
  const what = options.what ? `${options.what} ` : '';
  throw new InvalidFileError(file, `${what}${formatIssues(file, r.error, options.prefix)}`);
}

/** Reads, parses and validates a JSON file in one call. */
export function loadJsonFile<S extends z.ZodType>(
  path: string,
  schema: S,
  options: ParseJsonOptions & ReadFileOptions = {},
): z.output<S> {
  return parseWith(schema, readJsonFile(path, options), path, options);
}
