/**
 * @file A Hugging Face model directory's weights: a sharded checkpoint written in the test (F32, F16 and BF16
 * shards, an index, a buffer to ignore), read header first, checked against the config, then read and mapped
 * to roles; every inconsistency between the index and the shards refused naming the files; the single file
 * preferred over the index; export's bytes carry format "pt".
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import {
  HF_INDEX_FILE,
  HF_WEIGHTS_FILE,
  encodeHfSafetensors,
  hfModelSpec,
  matchHfTensors,
  readHfWeightHeaders,
  readHfWeights,
  rolesFromHf,
} from '../src/hf/index.ts';
import { decodeSafetensors, hostTensor } from '../src/io/index.ts';
import { bf16Bits, f16Bits, f32Bytes, fileOf, halves } from './safetensors-fixtures.ts';

const root = mkdtempSync(join(tmpdir(), 'reprise-hf-weights-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

// One layer, dModel 4, 2 heads over 1 kv head (head 2), dFF 4, vocab 3, tied head.
const spec = hfModelSpec(
  {
    model_type: 'llama',
    architectures: ['LlamaForCausalLM'],
    vocab_size: 3,
    hidden_size: 4,
    intermediate_size: 4,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    num_key_value_heads: 1,
    max_position_embeddings: 8,
    tie_word_embeddings: true,
  },
  'config.json',
);

/** Values 0, 1, 2... (exact in every dtype here) per tensor, offset so no two tensors share one. */
const seq = (n: number, from: number) => Array.from({ length: n }, (_, i) => from + i);
const P = 'model.layers.0.';
const SHARD1 = 'model-00001-of-00002.safetensors';
const SHARD2 = 'model-00002-of-00002.safetensors';
const shard1 = () =>
  fileOf(
    {
      'model.embed_tokens.weight': ['BF16', [3, 4], halves(bf16Bits(seq(12, 100)))],
      [`${P}input_layernorm.weight`]: ['F32', [4], f32Bytes(seq(4, 0.5))],
      [`${P}self_attn.q_proj.weight`]: ['F16', [4, 4], halves(f16Bits(seq(16, 1)))],
      [`${P}self_attn.k_proj.weight`]: ['F16', [2, 4], halves(f16Bits(seq(8, 20)))],
      [`${P}self_attn.v_proj.weight`]: ['F16', [2, 4], halves(f16Bits(seq(8, 30)))],
      [`${P}self_attn.rotary_emb.inv_freq`]: ['F32', [1], f32Bytes([1])],
    },
    { format: 'pt' },
  );
const shard2 = () =>
  fileOf(
    {
      [`${P}self_attn.o_proj.weight`]: ['BF16', [4, 4], halves(bf16Bits(seq(16, -8)))],
      [`${P}post_attention_layernorm.weight`]: ['F32', [4], f32Bytes(seq(4, 2))],
      [`${P}mlp.gate_proj.weight`]: ['F32', [4, 4], f32Bytes(seq(16, 40))],
      [`${P}mlp.up_proj.weight`]: ['F32', [4, 4], f32Bytes(seq(16, 60))],
      [`${P}mlp.down_proj.weight`]: ['F32', [4, 4], f32Bytes(seq(16, 80))],
      'model.norm.weight': ['BF16', [4], halves(bf16Bits([1, 2, 3, 4]))],
      'attn.mask': ['U8', [2], new Uint8Array([1, 0])],
    },
    { format: 'pt' },
  );
const weightMap = (file1: Buffer, file2: Buffer) => {
  const names = (f: Buffer) =>
    Object.keys(JSON.parse(f.subarray(8, 8 + Number(f.readBigUInt64LE(0))).toString())).filter(
      (n) => n !== '__metadata__',
    );
  return {
    ...Object.fromEntries(names(file1).map((n) => [n, SHARD1])),
    ...Object.fromEntries(names(file2).map((n) => [n, SHARD2])),
  };
};

let dir: string;
let n = 0;
function writeModel(
  edit: { map?: (m: Record<string, string>) => Record<string, string>; one?: Buffer; two?: Buffer } = {},
) {
  dir = join(root, `m${n++}`);
  mkdirSync(dir);
  const one = edit.one ?? shard1();
  const two = edit.two ?? shard2();
  const map = weightMap(one, two);
  writeFileSync(join(dir, SHARD1), one);
  writeFileSync(join(dir, SHARD2), two);
  writeFileSync(
    join(dir, HF_INDEX_FILE),
    JSON.stringify({ metadata: { total_size: 0 }, weight_map: edit.map ? edit.map(map) : map }),
  );
  return dir;
}

describe('a sharded checkpoint', () => {
  beforeEach(() => writeModel());

  it('is listed from its headers, checked against the config, read (halves widened) and mapped to roles', () => {
    const headers = readHfWeightHeaders(dir);
    expect(headers.index).toBe(join(dir, HF_INDEX_FILE));
    expect(headers.files.map((f) => f.path)).toEqual([join(dir, SHARD1), join(dir, SHARD2)]);
    expect(headers.listing[`${P}self_attn.k_proj.weight`]).toEqual([2, 4]);
    // The extra U8 buffer is not this model's: refused as unknown until it is told apart.
    expect(() => matchHfTensors(spec, headers.listing, headers.index!)).toThrow(
      /do not fit LlamaForCausalLM .*unexpected tensor 'attn\.mask' \[2\]\. Supported names/,
    );
    const { 'attn.mask': _, ...modelOnly } = headers.listing;
    const check = matchHfTensors(spec, modelOnly, headers.index!);
    expect(check.ignored).toEqual([`${P}self_attn.rotary_emb.inv_freq`]);

    const wanted = new Set(check.tensors.map((t) => t.hf.name));
    const tensors = readHfWeights(headers, wanted);
    expect(Object.keys(tensors).sort()).toEqual([...wanted].sort());
    const byRole = rolesFromHf(check.tensors, tensors);
    expect(byRole['embed.tokens']).toEqual(hostTensor([3, 4], Float32Array.from(seq(12, 100))));
    expect(byRole['norm.weight'].data).toEqual(Float32Array.from([1, 2, 3, 4]));
    // k_proj [out 2, in 4] = 20..27 → [in 4, out 2].
    expect(byRole['layers.0.k.weight']).toEqual(
      hostTensor([4, 2], Float32Array.from([20, 24, 21, 25, 22, 26, 23, 27])),
    );
    expect(byRole['layers.0.o.weight'].data[1]).toBe(-4);
    expect(byRole['layers.0.norm1.weight'].data).toEqual(Float32Array.from([0.5, 1.5, 2.5, 3.5]));
  });

  it('prefers model.safetensors to the index, as transformers does', () => {
    writeFileSync(join(dir, HF_WEIGHTS_FILE), fileOf({ only: ['F32', [1], f32Bytes([7])] }));
    const headers = readHfWeightHeaders(dir);
    expect(headers.index).toBeUndefined();
    expect(headers.listing).toEqual({ only: [1] });
    expect(readHfWeights(headers, new Set(['only'])).only.data).toEqual(Float32Array.from([7]));
  });

  it('refuses a wanted tensor that is not a float', () => {
    const headers = readHfWeightHeaders(dir);
    expect(() => readHfWeights(headers, new Set(['attn.mask']))).toThrow(
      `safetensors ${join(dir, SHARD2)}: tensor 'attn.mask': dtype U8 is not read here (accepted: F32, F16, BF16)`,
    );
  });
});

describe('a sharded checkpoint whose index and shards disagree is refused, naming the files', () => {
  const index = () => join(dir, HF_INDEX_FILE);
  it.each([
    [
      'a missing shard',
      () => {
        writeModel();
        rmSync(join(dir, SHARD2));
      },
      () =>
        `safetensors index ${index()}: shard ${join(dir, SHARD2)} does not exist (it holds '${P}self_attn.o_proj.weight',`,
    ],
    [
      'a tensor the index puts in a shard that lacks it',
      () => writeModel({ map: (m) => ({ ...m, 'lm_head.weight': SHARD1 }) }),
      () =>
        `safetensors index ${index()}: shard ${join(dir, SHARD1)} lacks 'lm_head.weight', which the index puts there`,
    ],
    [
      'a tensor in a shard the index does not list',
      () =>
        writeModel({
          map: (m) => {
            const { 'model.norm.weight': _, ...rest } = m;
            return rest;
          },
        }),
      () =>
        `safetensors index ${index()}: shard ${join(dir, SHARD2)} holds tensor 'model.norm.weight' but the index does not list it`,
    ],
    [
      'a tensor in two shards',
      () =>
        writeModel({
          two: fileOf({
            'model.norm.weight': ['F32', [4], f32Bytes([1, 2, 3, 4])],
            [`${P}input_layernorm.weight`]: ['F32', [4], f32Bytes([0, 0, 0, 0])],
          }),
        }),
      () =>
        `safetensors index ${index()}: tensor '${P}input_layernorm.weight' is in both ${join(dir, SHARD1)} and ${join(dir, SHARD2)}`,
    ],
    [
      'a shard name with a path in it',
      () => writeModel({ map: (m) => ({ ...m, 'model.norm.weight': '../elsewhere.safetensors' }) }),
      () =>
        `safetensors index ${index()}: weight_map["model.norm.weight"]: expected a .safetensors file name in the same directory (no path)`,
    ],
    [
      'an empty weight map',
      () => writeModel({ map: () => ({}) }),
      () => `safetensors index ${index()}: weight_map: expected at least one tensor`,
    ],
    [
      'a damaged shard',
      () => writeModel({ two: shard2().subarray(0, shard2().length - 1) }),
      () =>
        `safetensors ${join(dir, SHARD2)}: tensor 'attn.mask': data_offsets [248, 250] run past the 249-byte data section`,
    ],
    [
      'a directory with no safetensors weights',
      () => {
        dir = join(root, `m${n++}`);
        mkdirSync(dir);
      },
      () =>
        `Hugging Face model ${dir} has neither model.safetensors nor model.safetensors.index.json (only safetensors weights are read)`,
    ],
  ])('%s', (_what, make, message) => {
    make();
    expect(() => readHfWeightHeaders(dir)).toThrow(message());
  });
});

describe('export bytes', () => {
  it('carry format "pt" metadata and the HF names', () => {
    const bytes = encodeHfSafetensors({ 'model.norm.weight': hostTensor([2], Float32Array.from([1, 2])) });
    const back = decodeSafetensors(bytes, 'out/model.safetensors');
    expect(back.metadata).toEqual({ format: 'pt' });
    expect(back.tensors['model.norm.weight'].data).toEqual(Float32Array.from([1, 2]));
  });
});
