/**
 * @file The WGSL every kernel shares, generated from its spec: one storage binding per input (then the output),
 * the `Params` uniform struct with one named field per uniform, and the u32 words that fill it. Kernel bodies
 * read `params.name` (and `nameAt(k)` for array uniforms); no kernel writes a binding index or a slot number.
 */
import { f32bits } from './wgsl.ts';

/** A uniform field: a scalar, or a short array of u32/i32 (shapes and strides), read with `nameAt(k)`. */
export type UniformType = 'u32' | 'i32' | 'f32' | { readonly array: 'u32' | 'i32'; readonly length: number };

/** The values a launch gives its uniforms: numbers for scalars (floats as floats), lists for arrays. */
export type UniformValues<U> = {
  [K in keyof U]: U[K] extends { array: string } ? readonly number[] : number;
};

export interface Binding {
  name: string;
  access: 'read' | 'read_write';
  /** WGSL element type of the array. */
  element: string;
  /** Bound as a `texture_2d<f32>` (rgba32float) instead of a storage array (kernel.ts: TextureOperand). */
  texture?: boolean;
}

interface Field {
  name: string;
  type: UniformType;
  /** Offset in u32 words, by WGSL's uniform layout rules (arrays of vec4 aligned to 16 bytes). */
  offset: number;
  words: number;
}

const layouts = new WeakMap<object, { fields: Field[]; words: number }>();

/** Field offsets by WGSL's uniform layout: scalars on 4 bytes, `array<vec4<T>, n>` on 16. */
function layoutOf(uniforms: Record<string, UniformType>) {
  let layout = layouts.get(uniforms);
  if (layout) return layout;
  let at = 0;
  let align = 1;
  const fields = Object.entries(uniforms).map(([name, type]) => {
    if (typeof type === 'string') return { name, type, offset: at++, words: 1 };
    at = Math.ceil(at / 4) * 4;
    align = 4;
    const words = Math.ceil(type.length / 4) * 4;
    const field = { name, type, offset: at, words };
    at += words;
    return field;
  });
  layout = { fields, words: Math.max(1, Math.ceil(at / align) * align) };
  layouts.set(uniforms, layout);
  return layout;
}

function fieldType(type: UniformType): string {
  return typeof type === 'string' ? type : `array<vec4<${type.array}>, ${Math.ceil(type.length / 4)}>`;
}

/** Bindings in order (inputs, then the output), the `Params` struct at the next binding, array accessors. */
export function generateHeader(bindings: readonly Binding[], uniforms: Record<string, UniformType>): string {
  const { fields } = layoutOf(uniforms);
  const members = fields.length
    ? fields.map((f) => `  ${f.name}: ${fieldType(f.type)},`)
    : ['  unused: u32,'];
  const accessors = fields.flatMap((f) =>
    typeof f.type === 'string'
      ? []
      : [`fn ${f.name}At(k: u32) -> ${f.type.array} { return params.${f.name}[k >> 2u][k & 3u]; }`],
  );
  return `
${bindings.map((b, i) => (b.texture ? `@group(0) @binding(${i}) var ${b.name}: texture_2d<f32>;` : `@group(0) @binding(${i}) var<storage, ${b.access}> ${b.name}: array<${b.element}>;`)).join('\n')}
struct Params {
${members.join('\n')}
}
@group(0) @binding(${bindings.length}) var<uniform> params: Params;
${accessors.join('\n')}
`;
}

/** The u32 words of the `Params` struct for these values (floats bit-cast, integers as two's complement). */
export function encodeUniforms(
  kernel: string,
  uniforms: Record<string, UniformType>,
  values: Record<string, number | readonly number[]>,
): Uint32Array {
  const { fields, words } = layoutOf(uniforms);
  const out = new Uint32Array(words);
  for (const f of fields) {
    const v = values[f.name];
    if (typeof f.type === 'string') {
      if (typeof v !== 'number') {
        throw new Error(`kernel ${kernel}: uniform '${f.name}' (${f.type}) needs a number, got ${String(v)}`);
      }
      out[f.offset] = f.type === 'f32' ? f32bits(v) : v >>> 0;
    } else {
      if (!Array.isArray(v) || v.length > f.type.length) {
        throw new Error(
          `kernel ${kernel}: uniform '${f.name}' needs at most ${f.type.length} numbers, got ${String(v)}`,
        );
      }
      (v as readonly number[]).forEach((x, k) => {
        out[f.offset + k] = x >>> 0;
      });
    }
  }
  return out;
}
