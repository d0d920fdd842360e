/**
 * @file HF tensor names ↔ roles on tiny hand-made models: the names and shapes each family expects (with and
 * without the base model's prefix), the check of a header listing (missing, wrong shape, unexpected, ignored),
 * GPT-2's fused c_attn cut into q, k, v, nn.Linear's transpose, and export's reverse mapping.
 */
import { describe, expect, it } from 'vitest';
import {
  type HfModelSpec,
  checkHfTensors,
  hfFromRoles,
  hfModelSpec,
  hfRoleTensors,
  matchHfTensors,
  rolesFromHf,
} from '../src/hf/index.ts';
import { type HostTensor, hostTensor } from '../src/io/index.ts';

const gpt2 = (extra: Record<string, unknown> = {}) =>
  hfModelSpec(
    { model_type: 'gpt2', vocab_size: 11, n_embd: 4, n_layer: 2, n_head: 2, n_positions: 8, ...extra },
    'gpt2/config.json',
  );
const llama = (extra: Record<string, unknown> = {}) =>
  hfModelSpec(
    {
      model_type: 'llama',
      vocab_size: 10,
      hidden_size: 8,
      intermediate_size: 12,
      num_hidden_layers: 1,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      max_position_embeddings: 16,
      ...extra,
    },
    'llama/config.json',
  );

/** name → HF shape, as a header would list them. */
const listingOf = (spec: HfModelSpec, prefixed = true) =>
  Object.fromEntries(hfRoleTensors(spec, prefixed).map((t) => [t.hf.name, t.hf.shape]));

/** Distinct values per HF tensor, so that any mix-up of elements shows. */
function hfTensorsFor(spec: HfModelSpec): Record<string, HostTensor> {
  const out: Record<string, HostTensor> = {};
  let next = 0;
  for (const [name, shape] of Object.entries(listingOf(spec))) {
    const n = shape.reduce((a, b) => a * b, 1);
    out[name] = hostTensor(
      shape,
      Float32Array.from({ length: n }, () => next++),
    );
  }
  return out;
}

describe('expected HF names and shapes', () => {
  it('GPT-2: Conv1D [in, out] kept; c_attn is q, k, v side by side; tied head absent', () => {
    expect(listingOf(gpt2())).toEqual({
      'transformer.wte.weight': [11, 4],
      'transformer.wpe.weight': [8, 4],
      'transformer.ln_f.weight': [4],
      'transformer.ln_f.bias': [4],
      ...Object.fromEntries(
        [0, 1].flatMap((i) => [
          [`transformer.h.${i}.ln_1.weight`, [4]],
          [`transformer.h.${i}.ln_1.bias`, [4]],
          [`transformer.h.${i}.attn.c_attn.weight`, [4, 12]],
          [`transformer.h.${i}.attn.c_attn.bias`, [12]],
          [`transformer.h.${i}.attn.c_proj.weight`, [4, 4]],
          [`transformer.h.${i}.attn.c_proj.bias`, [4]],
          [`transformer.h.${i}.ln_2.weight`, [4]],
          [`transformer.h.${i}.ln_2.bias`, [4]],
          [`transformer.h.${i}.mlp.c_fc.weight`, [4, 16]],
          [`transformer.h.${i}.mlp.c_fc.bias`, [16]],
          [`transformer.h.${i}.mlp.c_proj.weight`, [16, 4]],
          [`transformer.h.${i}.mlp.c_proj.bias`, [4]],
        ]),
      ),
    });
    const roles = hfRoleTensors(gpt2());
    expect(roles.filter((r) => r.hf.name === 'transformer.h.1.attn.c_attn.weight')).toEqual(
      (['q', 'k', 'v'] as const).map((r, index) => ({
        role: `layers.1.${r}.weight`,
        shape: [4, 4],
        hf: {
          name: 'transformer.h.1.attn.c_attn.weight',
          shape: [4, 12],
          transpose: false,
          part: { index, of: 3 },
        },
      })),
    );
    expect(listingOf(gpt2({ tie_word_embeddings: false }))['lm_head.weight']).toEqual([11, 4]);
    expect(Object.keys(listingOf(gpt2(), false))).toContain('h.0.attn.c_attn.weight');
  });

  it('Llama with grouped-query attention: nn.Linear [out, in], no biases, a gate, no positions', () => {
    const roles = hfRoleTensors(llama());
    expect(
      Object.fromEntries(roles.map((r) => [r.role, [r.hf.name, r.hf.shape, r.shape, r.hf.transpose]])),
    ).toEqual({
      'embed.tokens': ['model.embed_tokens.weight', [10, 8], [10, 8], false],
      'norm.weight': ['model.norm.weight', [8], [8], false],
      'layers.0.norm1.weight': ['model.layers.0.input_layernorm.weight', [8], [8], false],
      'layers.0.q.weight': ['model.layers.0.self_attn.q_proj.weight', [8, 8], [8, 8], true],
      'layers.0.k.weight': ['model.layers.0.self_attn.k_proj.weight', [4, 8], [8, 4], true],
      'layers.0.v.weight': ['model.layers.0.self_attn.v_proj.weight', [4, 8], [8, 4], true],
      'layers.0.o.weight': ['model.layers.0.self_attn.o_proj.weight', [8, 8], [8, 8], true],
      'layers.0.norm2.weight': ['model.layers.0.post_attention_layernorm.weight', [8], [8], false],
      'layers.0.mlp.gate.weight': ['model.layers.0.mlp.gate_proj.weight', [12, 8], [8, 12], true],
      'layers.0.mlp.up.weight': ['model.layers.0.mlp.up_proj.weight', [12, 8], [8, 12], true],
      'layers.0.mlp.down.weight': ['model.layers.0.mlp.down_proj.weight', [8, 12], [12, 8], true],
      'lmHead.weight': ['lm_head.weight', [10, 8], [10, 8], false],
    });
  });

  it('Qwen2 adds q/k/v biases only; head_dim may differ from hidden/heads; a tagger has a score head', () => {
    const qwen = hfModelSpec(
      {
        model_type: 'qwen2',
        architectures: ['Qwen2ForTokenClassification'],
        vocab_size: 10,
        hidden_size: 8,
        intermediate_size: 12,
        num_hidden_layers: 1,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        head_dim: 6,
        max_position_embeddings: 16,
        id2label: { '0': 'A', '1': 'B', '2': 'C' },
      },
      'qwen/config.json',
    );
    const l = listingOf(qwen);
    expect(l['model.layers.0.self_attn.q_proj.weight']).toEqual([24, 8]);
    expect(l['model.layers.0.self_attn.q_proj.bias']).toEqual([24]);
    expect(l['model.layers.0.self_attn.k_proj.bias']).toEqual([12]);
    expect(l['model.layers.0.self_attn.o_proj.weight']).toEqual([8, 24]);
    expect(l['model.layers.0.self_attn.o_proj.bias']).toBeUndefined();
    expect(l['score.weight']).toEqual([3, 8]);
    expect(l['score.bias']).toEqual([3]);
    expect(l['lm_head.weight']).toBeUndefined();
    expect(hfRoleTensors(qwen).find((r) => r.role === 'classifier.weight')?.shape).toEqual([8, 3]);
  });
});

describe('checking a header listing', () => {
  it('accepts the expected names, prefixed or not, and ignores buffers and a tied head copy', () => {
    const spec = gpt2();
    const bare = {
      ...listingOf(spec, false),
      'h.0.attn.bias': [1, 1, 8, 8],
      'h.1.attn.masked_bias': [],
      'lm_head.weight': [11, 4],
    };
    const check = matchHfTensors(spec, bare, 'gpt2/model.safetensors');
    expect(check.prefixed).toBe(false);
    expect(check.problems).toEqual([]);
    expect(check.ignored.sort()).toEqual(['h.0.attn.bias', 'h.1.attn.masked_bias', 'lm_head.weight']);
    expect(check.tensors.map((t) => t.hf.name)).toContain('h.0.attn.c_attn.weight');
    expect(checkHfTensors(spec, listingOf(spec)).prefixed).toBe(true);
    const rope = { ...listingOf(llama()), 'model.layers.0.self_attn.rotary_emb.inv_freq': [2] };
    expect(checkHfTensors(llama(), rope).ignored).toEqual(['model.layers.0.self_attn.rotary_emb.inv_freq']);
  });

  it('reports each missing tensor, wrong shape and unknown name with what was expected and found', () => {
    const spec = llama();
    const { 'model.layers.0.mlp.gate_proj.weight': _, ...listing } = listingOf(spec);
    listing['model.layers.0.self_attn.k_proj.weight'] = [8, 8];
    listing['model.layers.0.self_attn.q_proj.bias'] = [8];
    listing['model.layers.1.input_layernorm.weight'] = [8];
    expect(checkHfTensors(spec, listing).problems).toEqual([
      "tensor 'model.layers.0.self_attn.k_proj.weight': expected shape [4, 8], found [8, 8]",
      "missing tensor 'model.layers.0.mlp.gate_proj.weight' (expected [12, 8])",
      "unexpected tensor 'model.layers.0.self_attn.q_proj.bias' [8]",
      "unexpected tensor 'model.layers.1.input_layernorm.weight' [8]",
    ]);
    const refusal = () => matchHfTensors(spec, listing, 'dir/model.safetensors');
    expect(refusal).toThrow(
      /^Hugging Face weights dir\/model\.safetensors do not fit LlamaForCausalLM \(1 layer, dModel 8\): tensor 'model\.layers\.0\.self_attn\.k_proj/,
    );
    // Unknown names: the refusal lists what this architecture and config support.
    expect(refusal).toThrow(
      'Supported names for LlamaForCausalLM with this config: model.embed_tokens.weight, model.norm.weight, model.layers.{0..0}.input_layernorm.weight, model.layers.{0..0}.self_attn.q_proj.weight,',
    );
    expect(refusal).toThrow(
      'model.layers.{0..0}.mlp.down_proj.weight, lm_head.weight, model.layers.{0..0}.self_attn',
    );
    expect(refusal).toThrow('model.layers.{0..0}.self_attn.rotary_emb.inv_freq (ignored)');
  });

  it('an untied head must be present; a lone unknown name is refused; only ten problems are listed', () => {
    const untied = gpt2({ tie_word_embeddings: false });
    const l = listingOf(gpt2());
    expect(checkHfTensors(untied, l).problems).toEqual([
      "missing tensor 'lm_head.weight' (expected [11, 4])",
    ]);
    expect(() => matchHfTensors(gpt2(), { ...l, 'transformer.h.0.attn.q_proj.weight': [4, 4] }, 'f')).toThrow(
      /unexpected tensor 'transformer\.h\.0\.attn\.q_proj\.weight' \[4, 4\]\. Supported names for GPT2LMHeadModel.*transformer\.h\.\{0\.\.1\}\.attn\.c_attn\.weight/,
    );
    // 4 + 2 · 12 tensors missing, named as save_pretrained writes them.
    expect(() => matchHfTensors(gpt2(), {}, 'f')).toThrow(
      /: missing tensor 'transformer\.wte\.weight' \(expected \[11, 4\]\);.*; and 18 more$/,
    );
  });
});

describe('moving tensors between layouts', () => {
  it("cuts GPT-2's c_attn into q, k, v along the output axis (weight and bias)", () => {
    const spec = hfModelSpec(
      { model_type: 'gpt2', vocab_size: 3, n_embd: 2, n_layer: 1, n_head: 1, n_positions: 2 },
      'c.json',
    );
    const roles = hfRoleTensors(spec).filter((r) => r.hf.name.includes('c_attn'));
    // [in = 2, out = 6]: row r holds q(r,0) q(r,1) k(r,0) k(r,1) v(r,0) v(r,1).
    const w = hostTensor([2, 6], Float32Array.from([0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15]));
    const b = hostTensor([6], Float32Array.from([20, 21, 22, 23, 24, 25]));
    const out = rolesFromHf(roles, {
      'transformer.h.0.attn.c_attn.weight': w,
      'transformer.h.0.attn.c_attn.bias': b,
    });
    const values = (name: string) => [out[name].shape, Array.from(out[name].data)];
    expect(values('layers.0.q.weight')).toEqual([
      [2, 2],
      [0, 1, 10, 11],
    ]);
    expect(values('layers.0.k.weight')).toEqual([
      [2, 2],
      [2, 3, 12, 13],
    ]);
    expect(values('layers.0.v.weight')).toEqual([
      [2, 2],
      [4, 5, 14, 15],
    ]);
    expect(values('layers.0.q.bias')).toEqual([[2], [20, 21]]);
    expect(values('layers.0.v.bias')).toEqual([[2], [24, 25]]);
    // And back: export fuses them into the same bytes.
    expect(hfFromRoles(roles, out)).toEqual({
      'transformer.h.0.attn.c_attn.weight': w,
      'transformer.h.0.attn.c_attn.bias': b,
    });
  });

  it('transposes nn.Linear [out, in] into [in, out]', () => {
    const spec = llama();
    const k = hfRoleTensors(spec).filter((r) => r.role === 'layers.0.k.weight');
    // k_proj: [out = 4, in = 8], element (o, i) = 10·o + i.
    const hf = hostTensor(
      [4, 8],
      Float32Array.from({ length: 32 }, (_, j) => 10 * Math.floor(j / 8) + (j % 8)),
    );
    const t = rolesFromHf(k, { 'model.layers.0.self_attn.k_proj.weight': hf })['layers.0.k.weight'];
    expect(t.shape).toEqual([8, 4]);
    expect(Array.from(t.data.subarray(0, 8))).toEqual([0, 10, 20, 30, 1, 11, 21, 31]);
  });

  it.each([
    ['GPT-2', gpt2()],
    ['GPT-2 tagger', gpt2({ tie_word_embeddings: false, architectures: ['GPT2ForTokenClassification'] })],
    ['Llama', llama()],
    ['Llama with every bias', llama({ attention_bias: true, mlp_bias: true, tie_word_embeddings: true })],
  ])('%s: import then export gives back every tensor bit for bit', (_what, spec) => {
    const hf = hfTensorsFor(spec);
    const roles = hfRoleTensors(spec);
    const byRole = rolesFromHf(roles, hf);
    expect(Object.keys(byRole)).toHaveLength(roles.length);
    expect(hfFromRoles(roles, byRole)).toEqual(hf);
  });

  it('refuses a missing, mis-shaped or non-F32 tensor, naming it', () => {
    const roles = hfRoleTensors(llama());
    const hf = hfTensorsFor(llama());
    const name = 'model.layers.0.mlp.up_proj.weight';
    expect(() => rolesFromHf(roles, { ...hf, [name]: undefined as unknown as HostTensor })).toThrow(
      `import: tensor '${name}' is missing`,
    );
    expect(() => rolesFromHf(roles, { ...hf, [name]: hostTensor([8, 12], new Float32Array(96)) })).toThrow(
      `import: tensor '${name}' must have shape [12, 8], found [8, 12]`,
    );
    expect(() => rolesFromHf(roles, { ...hf, [name]: hostTensor([12, 8], new Int32Array(96)) })).toThrow(
      `import: tensor '${name}' must be F32, found I32`,
    );
    const { 'layers.0.o.weight': _, ...byRole } = rolesFromHf(roles, hf);
    expect(() => hfFromRoles(roles, byRole)).toThrow("export: tensor 'layers.0.o.weight' is missing");
  });
});
