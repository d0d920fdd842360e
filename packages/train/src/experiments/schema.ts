/**
 * @file A small declarative validator for JSON files: a schema says, once per field, what the field must be;
 * `validate` walks a parsed value along the schema (so recursion is bounded by the schema's depth, never by
 * the input's), refusing with the file, the JSON path, what was expected and what was found (quoted, at most
 * ~200 characters), and refusing unknown keys with the closest known one.
 */
import { closest } from 'fastest-levenshtein';

/** A value's check: `ok` says whether it passes, `expected` says what it must be (for the message). */
export interface Leaf {
  kind: 'leaf';
  expected: string;
  ok: (v: unknown) => boolean;
}
export interface ListSpec {
  kind: 'list';
  item: Spec;
  nonEmpty: boolean;
}
export interface ObjectSpec {
  kind: 'object';
  fields: Record<string, Field>;
}
export type Spec = Leaf | ListSpec | ObjectSpec;
export interface Field {
  spec: Spec;
  optional: boolean;
}

export const leaf = (expected: string, ok: (v: unknown) => boolean): Leaf => ({ kind: 'leaf', expected, ok });
export const list = (item: Spec, nonEmpty = true): ListSpec => ({ kind: 'list', item, nonEmpty });
/** An object with exactly these keys (fields given as a bare spec are required; `optional(spec)` may be absent). */
export const object = (fields: Record<string, Spec | Field>): ObjectSpec => ({
  kind: 'object',
  fields: Object.fromEntries(
    Object.entries(fields).map(([k, f]) => [k, 'spec' in f ? f : { spec: f, optional: false }]),
  ),
});
export const optional = (spec: Spec): Field => ({ spec, optional: true });

export const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  leaf(
    max === Number.MAX_SAFE_INTEGER ? `an integer ≥ ${min}` : `an integer in [${min}, ${max}]`,
    (v) => Number.isInteger(v) && (v as number) >= min && (v as number) <= max,
  );
/** A finite number in [min, max], or (min, max] / [min, max) where the bound is exclusive. */
export const num = (min: number, max: number, o: { minExclusive?: boolean; maxExclusive?: boolean } = {}) =>
  leaf(
    `a number in ${o.minExclusive ? '(' : '['}${min}, ${max === Number.POSITIVE_INFINITY ? '∞' : max}${o.maxExclusive || max === Number.POSITIVE_INFINITY ? ')' : ']'}`,
    (v) =>
      typeof v === 'number' &&
      Number.isFinite(v) &&
      (o.minExclusive ? v > min : v >= min) &&
      (o.maxExclusive ? v < max : v <= max),
  );
export const bool = leaf('true or false', (v) => typeof v === 'boolean');
export const oneOf = <T extends string>(values: readonly T[]) =>
  leaf(`one of ${values.map((v) => JSON.stringify(v)).join(', ')}`, (v) => values.includes(v as T));
export const nullable = (spec: Leaf) => leaf(`${spec.expected}, or null`, (v) => v === null || spec.ok(v));

/** A bad value for a message: JSON, cut to ~200 characters (never throws, however deep or large the value). */
export function quote(v: unknown): string {
  let text: string;
  try {
    text = v === undefined ? 'nothing' : JSON.stringify(v);
  } catch {
    return 'a value too deeply nested to show';
  }
  return text.length > 200 ? `${text.slice(0, 200)}… (${text.length} characters)` : text;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const describe = (spec: Spec): string =>
  spec.kind === 'leaf'
    ? spec.expected
    : spec.kind === 'list'
      ? `a ${spec.nonEmpty ? 'non-empty ' : ''}list`
      : 'an object';

/** Throws a clean `Error` naming `source` and the JSON path at the first value that does not fit `spec`. */
export function validate(spec: Spec, value: unknown, source: string, path = ''): void {
  const where = path || 'the file';
  const fail = (expected: string): never => {
    throw new Error(`${source}: ${where} must be ${expected}, found ${quote(value)}`);
  };
  if (spec.kind === 'leaf') {
    if (!spec.ok(value)) fail(spec.expected);
    return;
  }
  if (spec.kind === 'list') {
    if (!Array.isArray(value) || (spec.nonEmpty && value.length === 0)) fail(describe(spec));
    (value as unknown[]).forEach((item, i) => validate(spec.item, item, source, `${path}[${i}]`));
    return;
  }
  if (!isObject(value)) {
    fail('an object');
    return;
  }
  const known = Object.keys(spec.fields);
  const at = (key: string) => (path ? `${path}.${key}` : key);
  for (const key of Object.keys(value)) {
    if (key in spec.fields) continue;
    const hint = known.length ? `; did you mean ${at(closest(key, known))}?` : '';
    throw new Error(`${source}: ${at(key)} is not a known key${hint} (known here: ${known.join(', ')})`);
  }
  for (const [key, field] of Object.entries(spec.fields)) {
    if (value[key] === undefined) {
      if (!field.optional)
        throw new Error(`${source}: ${at(key)} is missing (expected ${describe(field.spec)})`);
      continue;
    }
    validate(field.spec, value[key], source, at(key));
  }
}
