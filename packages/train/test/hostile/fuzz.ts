/**
 * Property-test helpers for the loaders (issue 17): mutations of valid files (JSON-level edits and byte-level
 * damage), and the judge of one call: it must return a result that passes the loader's consistency check, or
 * throw a plain Error (not a TypeError/RangeError from deep inside) whose message names the file and stays short,
 * within a time bound. Outcomes are counted per loader and printed at the end of each file.
 *
 * Runs are seeded (REPRISE_FUZZ_SEED overrides, REPRISE_FUZZ_RUNS scales the counts); fast-check prints the
 * seed and path of a failure so that it reproduces.
 */
import fc from 'fast-check';

export const SEED = Number(process.env.REPRISE_FUZZ_SEED ?? 1717);
const SCALE = Number(process.env.REPRISE_FUZZ_RUNS ?? 1);
export const runs = (n: number) => Math.max(1, Math.round(n * SCALE));
/** One call must answer within this (the issue's fuzzer used a 5 s watchdog; ours are small files). */
export const TIME_LIMIT_MS = 3000;
/** A refusal longer than this is echoing input. */
export const MESSAGE_LIMIT = 3000;

export type Outcome = 'accepted' | 'refused' | 'other';

export class Tally {
  counts: Record<Outcome, number> = { accepted: 0, refused: 0, other: 0 };
  constructor(readonly name: string) {}
  get total() {
    return this.counts.accepted + this.counts.refused + this.counts.other;
  }
  line(): string {
    const c = this.counts;
    return `${this.name}: ${this.total} inputs, ${c.accepted} accepted, ${c.refused} clean refusals, ${c.other} other`;
  }
}

/** Every tally of this file, printed once when the file's tests end. */
export const tallies: Tally[] = [];
export function tally(name: string): Tally {
  const t = new Tally(name);
  tallies.push(t);
  return t;
}
export function printTallies(): void {
  if (tallies.length)
    process.stdout.write(`fuzz (seed ${SEED}):\n${tallies.map((t) => `  ${t.line()}`).join('\n')}\n`);
}

const UGLY = [TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError];

/**
 * Runs `call` and judges it. Throws (failing the property) with the reason when the outcome is neither an
 * accepted, consistent result nor a clean refusal naming `file`.
 */
export function judge<T>(t: Tally, file: string, call: () => T, consistent: (r: T) => void): Outcome {
  const started = performance.now();
  let result: T;
  try {
    result = call();
  } catch (e) {
    const ms = performance.now() - started;
    const problem = !(e instanceof Error)
      ? `threw a non-Error ${String(e)}`
      : UGLY.some((U) => e.constructor === U)
        ? `threw a bare ${e.constructor.name}: ${e.message.slice(0, 300)}`
        : !e.message.includes(file)
          ? `refused without naming ${file}: ${e.message.slice(0, 300)}`
          : e.message.length > MESSAGE_LIMIT
            ? `refused with a ${e.message.length}-character message`
            : ms > TIME_LIMIT_MS
              ? `took ${ms.toFixed(0)} ms to refuse`
              : null;
    if (problem) {
      t.counts.other++;
      throw new Error(problem);
    }
    t.counts.refused++;
    return 'refused';
  }
  const ms = performance.now() - started;
  try {
    if (ms > TIME_LIMIT_MS) throw new Error(`took ${ms.toFixed(0)} ms to accept`);
    consistent(result);
  } catch (e) {
    t.counts.other++;
    throw new Error(`accepted but inconsistent: ${(e as Error).message}`);
  }
  t.counts.accepted++;
  return 'accepted';
}

// ---- Mutations -------------------------------------------------------------------------------------------------

// Placeholders replaced after JSON.stringify by text JSON cannot hold as a value we would build in memory.
const DEEP = '\u0000deep\u0000';
const LONG = '\u0000long\u0000';
const BAD_UTF8 = '\u0000badutf8\u0000';

/** Values that have broken loaders: huge sizes, wrong types, deep nesting, long strings, invalid UTF-8. */
export const evilValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(
    0,
    -1,
    1.5,
    65536,
    4_000_000,
    20_000_000,
    2147483647,
    2 ** 53,
    1e308,
    '2',
    '',
    'x',
    'NaN',
    'Infinity',
    null,
    true,
    false,
    [],
    {},
    [1, 2],
    { step: 1 },
    DEEP,
    LONG,
    BAD_UTF8,
  ),
  fc.jsonValue({ maxDepth: 2 }),
  fc.integer({ min: -1000, max: 100_000 }),
);

type JsonPath = (string | number)[];

/** Paths to every value in `doc` (objects and arrays included), at most `limit` of them. */
function paths(doc: unknown, limit = 5000): JsonPath[] {
  const out: JsonPath[] = [[]];
  const walk = (v: unknown, at: JsonPath) => {
    if (out.length >= limit || typeof v !== 'object' || v === null) return;
    for (const [k, child] of Object.entries(v)) {
      const p = [...at, Array.isArray(v) ? Number(k) : k];
      out.push(p);
      walk(child, p);
    }
  };
  walk(doc, []);
  return out;
}

export type JsonEdit =
  | { kind: 'set'; at: number; value: unknown }
  | { kind: 'delete'; at: number }
  | { kind: 'rename'; at: number; suffix: string }
  | { kind: 'add'; at: number; key: string; value: unknown };

export const jsonEdit: fc.Arbitrary<JsonEdit> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: evilValue }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('rename' as const),
      at: fc.nat(),
      suffix: fc.string({ maxLength: 2 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('add' as const),
      at: fc.nat(),
      key: fc.string({ maxLength: 8 }),
      value: evilValue,
    }),
  },
);

function applyEdit(doc: unknown, edit: JsonEdit): unknown {
  const all = paths(doc);
  const path = all[edit.at % all.length];
  if (path.length === 0) return edit.kind === 'set' ? edit.value : doc;
  let parent = doc as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
  const key = path[path.length - 1];
  if (edit.kind === 'set') parent[key] = edit.value;
  else if (edit.kind === 'delete') {
    if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete parent[key];
  } else if (edit.kind === 'rename' && !Array.isArray(parent)) {
    const v = parent[key];
    delete parent[key];
    parent[`${key}${edit.suffix || 'x'}`] = v;
  } else if (edit.kind === 'add') {
    const target = parent[key];
    if (typeof target === 'object' && target !== null && !Array.isArray(target))
      Object.defineProperty(target, edit.key, {
        value: edit.value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    else if (Array.isArray(target)) target.push(edit.value);
  }
  return doc;
}

/** Serializes with the placeholders expanded: 100k-deep nesting, a 1M-character string, bytes that are not UTF-8. */
export function render(doc: unknown, space?: number): Buffer {
  let text = JSON.stringify(doc, null, space) ?? 'undefined';
  text = text
    .replaceAll(JSON.stringify(DEEP), `${'['.repeat(100_000)}${']'.repeat(100_000)}`)
    .replaceAll(JSON.stringify(LONG), JSON.stringify('a'.repeat(1_000_000)));
  const marker = JSON.stringify(BAD_UTF8).slice(1, -1);
  const parts = text.split(marker);
  return Buffer.concat(
    parts.flatMap((p, i) => (i === 0 ? [Buffer.from(p)] : [Buffer.from([0xc3, 0x28, 0xff]), Buffer.from(p)])),
  );
}

/** A deep copy of `doc` with the edits applied, serialized. */
export function mutateJson(doc: unknown, edits: readonly JsonEdit[], space?: number): Buffer {
  let copy = structuredClone(doc);
  for (const e of edits) copy = applyEdit(copy, e);
  return render(copy, space);
}

export type ByteEdit =
  | { kind: 'flip'; at: number; byte: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: number[] }
  | { kind: 'nest'; at: number };

export const byteEdit: fc.Arbitrary<ByteEdit> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 8 }),
  }),
  fc.record({ kind: fc.constant('nest' as const), at: fc.nat() }),
);

/** Byte-level damage: a flipped byte, a cut, inserted bytes, or 100k opening brackets. */
export function mutateBytes(buf: Buffer, edits: readonly ByteEdit[]): Buffer {
  let b = Buffer.from(buf);
  for (const e of edits) {
    const at = b.length === 0 ? 0 : e.at % (b.length + 1);
    if (e.kind === 'flip' && b.length > 0) b[at % b.length] = e.byte;
    else if (e.kind === 'truncate') b = b.subarray(0, at);
    else if (e.kind === 'insert')
      b = Buffer.concat([b.subarray(0, at), Buffer.from(e.bytes), b.subarray(at)]);
    else if (e.kind === 'nest')
      b = Buffer.concat([b.subarray(0, at), Buffer.from('['.repeat(100_000)), b.subarray(at)]);
  }
  return b;
}

/** Either JSON-level edits (most) or byte-level damage of a JSON document. */
export type JsonMutation = { json: JsonEdit[] } | { bytes: ByteEdit[] };
export const jsonMutation: fc.Arbitrary<JsonMutation> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ json: fc.array(jsonEdit, { minLength: 1, maxLength: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ bytes: fc.array(byteEdit, { minLength: 1, maxLength: 2 }) }) },
);
export function applyJsonMutation(doc: unknown, m: JsonMutation, space?: number): Buffer {
  return 'json' in m ? mutateJson(doc, m.json, space) : mutateBytes(render(doc, space), m.bytes);
}
