/**
 * @file Hugging Face config.json → HfModelSpec: the published configs of GPT-2, SmolLM2-135M (Llama), Mistral-7B
 * and Qwen2-0.5B (copied from their hub repositories, trimmed of nothing), the defaults transformers applies to
 * absent keys, and refusals that name the file, the key and what is supported.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type HfModelSpec, hfModelSpec, loadHfConfig } from '../src/hf/index.ts';

const GPT2 = {
  activation_function: 'gelu_new',
  architectures: ['GPT2LMHeadModel'],
  attn_pdrop: 0.1,
  bos_token_id: 50256,
  embd_pdrop: 0.1,
  eos_token_id: 50256,
  initializer_range: 0.02,
  layer_norm_epsilon: 1e-5,
  model_type: 'gpt2',
  n_ctx: 1024,
  n_embd: 768,
  n_head: 12,
  n_layer: 12,
  n_positions: 1024,
  resid_pdrop: 0.1,
  summary_activation: null,
  summary_first_dropout: 0.1,
  summary_proj_to_labels: true,
  summary_type: 'cls_index',
  summary_use_proj: true,
  task_specific_params: { 'text-generation': { do_sample: true, max_length: 50 } },
  vocab_size: 50257,
};

const SMOLLM2 = {
  architectures: ['LlamaForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 0,
  eos_token_id: 0,
  hidden_act: 'silu',
  hidden_size: 576,
  initializer_range: 0.041666666666666664,
  intermediate_size: 1536,
  is_llama_config: true,
  max_position_embeddings: 8192,
  mlp_bias: false,
  model_type: 'llama',
  num_attention_heads: 9,
  num_hidden_layers: 30,
  num_key_value_heads: 3,
  pretraining_tp: 1,
  rms_norm_eps: 1e-5,
  rope_interleaved: false,
  rope_scaling: null,
  rope_theta: 100000,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  transformers_version: '4.42.3',
  use_cache: true,
  vocab_size: 49152,
};

const MISTRAL = {
  architectures: ['MistralForCausalLM'],
  bos_token_id: 1,
  eos_token_id: 2,
  hidden_act: 'silu',
  hidden_size: 4096,
  initializer_range: 0.02,
  intermediate_size: 14336,
  max_position_embeddings: 32768,
  model_type: 'mistral',
  num_attention_heads: 32,
  num_hidden_layers: 32,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-5,
  rope_theta: 10000.0,
  sliding_window: 4096,
  tie_word_embeddings: false,
  torch_dtype: 'bfloat16',
  transformers_version: '4.34.0.dev0',
  use_cache: true,
  vocab_size: 32000,
};

const QWEN2 = {
  architectures: ['Qwen2ForCausalLM'],
  attention_dropout: 0.0,
  bos_token_id: 151643,
  eos_token_id: 151643,
  hidden_act: 'silu',
  hidden_size: 896,
  initializer_range: 0.02,
  intermediate_size: 4864,
  max_position_embeddings: 131072,
  max_window_layers: 24,
  model_type: 'qwen2',
  num_attention_heads: 14,
  num_hidden_layers: 24,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000.0,
  sliding_window: 131072,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  transformers_version: '4.40.1',
  use_cache: true,
  use_sliding_window: false,
  vocab_size: 151936,
};

const spec = (raw: unknown) => hfModelSpec(raw, 'hf/config.json');

describe('HF config.json → HfModelSpec', () => {
  it('GPT-2: LayerNorm, tanh GELU, learned positions, all biases, tied head (absent key = true)', () => {
    expect(spec(GPT2)).toEqual({
      architecture: 'GPT2LMHeadModel',
      modelType: 'gpt2',
      family: 'gpt2',
      vocabSize: 50257,
      dModel: 768,
      layers: 12,
      heads: 12,
      kvHeads: 12,
      headDim: 64,
      dFF: 3072,
      norm: { kind: 'layer', eps: 1e-5 },
      activation: 'gelu_tanh',
      positions: { kind: 'learned' },
      qkvBias: true,
      oBias: true,
      mlpBias: true,
      tiedHead: true,
      maxPositions: 1024,
      slidingWindow: null,
      head: { kind: 'lm' },
    } satisfies HfModelSpec);
    expect(
      spec({ ...GPT2, n_inner: 100, activation_function: 'gelu', tie_word_embeddings: false }),
    ).toMatchObject({ dFF: 100, activation: 'gelu', tiedHead: false });
  });

  it('SmolLM2-135M (Llama): RMSNorm, SwiGLU, rotary θ = 1e5, 9 heads over 3 kv heads, tied head', () => {
    expect(spec(SMOLLM2)).toEqual({
      architecture: 'LlamaForCausalLM',
      modelType: 'llama',
      family: 'llama',
      vocabSize: 49152,
      dModel: 576,
      layers: 30,
      heads: 9,
      kvHeads: 3,
      headDim: 64,
      dFF: 1536,
      norm: { kind: 'rms', eps: 1e-5 },
      activation: 'silu_glu',
      positions: { kind: 'rotary', theta: 100000, convention: 'half-split' },
      qkvBias: false,
      oBias: false,
      mlpBias: false,
      tiedHead: true,
      maxPositions: 8192,
      slidingWindow: null,
      head: { kind: 'lm' },
    } satisfies HfModelSpec);
    expect(spec({ ...SMOLLM2, attention_bias: true, mlp_bias: true })).toMatchObject({
      qkvBias: true,
      oBias: true,
      mlpBias: true,
    });
  });

  it('Mistral-7B: grouped-query attention, untied head, the sliding window noted (4096 when absent)', () => {
    const s = spec(MISTRAL);
    expect(s).toMatchObject({ modelType: 'mistral', heads: 32, kvHeads: 8, headDim: 128, tiedHead: false });
    expect(s.slidingWindow).toBe(4096);
    expect(spec({ ...MISTRAL, sliding_window: null }).slidingWindow).toBeNull();
    const { sliding_window: _, ...absent } = MISTRAL;
    expect(spec(absent).slidingWindow).toBe(4096);
    // Mistral has no biases whatever the file says.
    expect(spec({ ...MISTRAL, attention_bias: true })).toMatchObject({ qkvBias: false, oBias: false });
  });

  it('Qwen2-0.5B: q/k/v biases, no o bias, θ = 1e6; its unused window is not a window', () => {
    expect(spec(QWEN2)).toMatchObject({
      modelType: 'qwen2',
      heads: 14,
      kvHeads: 2,
      headDim: 64,
      qkvBias: true,
      oBias: false,
      mlpBias: false,
      tiedHead: true,
      positions: { kind: 'rotary', theta: 1e6, convention: 'half-split' },
      slidingWindow: null,
    });
  });

  it('fills transformers defaults for absent keys, and takes head_dim and rope_parameters when given', () => {
    const minimal = {
      model_type: 'llama',
      vocab_size: 100,
      hidden_size: 64,
      intermediate_size: 128,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      max_position_embeddings: 256,
    };
    expect(spec(minimal)).toMatchObject({
      architecture: 'LlamaForCausalLM',
      kvHeads: 4,
      headDim: 16,
      norm: { kind: 'rms', eps: 1e-6 },
      positions: { kind: 'rotary', theta: 10000 },
      tiedHead: false,
    });
    expect(spec({ ...minimal, num_key_value_heads: null, head_dim: 32 })).toMatchObject({
      kvHeads: 4,
      headDim: 32,
    });
    expect(
      spec({ ...minimal, rope_parameters: { rope_type: 'default', rope_theta: 5e5 } }).positions,
    ).toEqual({
      kind: 'rotary',
      theta: 5e5,
      convention: 'half-split',
    });
    expect(spec({ ...minimal, rope_scaling: { rope_type: 'default' } }).positions).toMatchObject({
      theta: 1e4,
    });
  });

  it('a token-classification architecture carries its labels in id order (HF default: two)', () => {
    const tagger = {
      ...GPT2,
      architectures: ['GPT2ForTokenClassification'],
      id2label: { '1': 'VERB', '0': 'NOUN', '2': 'DET' },
      label2id: { NOUN: 0, VERB: 1, DET: 2 },
    };
    expect(spec(tagger).head).toEqual({ kind: 'token-classification', labels: ['NOUN', 'VERB', 'DET'] });
    expect(spec({ ...QWEN2, architectures: ['Qwen2ForTokenClassification'] }).head).toEqual({
      kind: 'token-classification',
      labels: ['LABEL_0', 'LABEL_1'],
    });
    expect(() => spec({ ...tagger, id2label: { '0': 'A', '2': 'B' } })).toThrow(
      /id2label: ids must be 0\.\.1; id 1 is missing/,
    );
    expect(() => spec({ ...tagger, id2label: {} })).toThrow(
      'id2label: expected at least one label, found {}',
    );
  });
});

describe('HF config.json refusals name the file, the key, and what is supported', () => {
  const SUPPORTED =
    'GPT2LMHeadModel, GPT2ForTokenClassification, LlamaForCausalLM, LlamaForTokenClassification, MistralForCausalLM, MistralForTokenClassification, Qwen2ForCausalLM, Qwen2ForTokenClassification';
  const cases: [string, unknown, string | RegExp][] = [
    ['not an object', [], /^Hugging Face config hf\/config\.json: expected object, found \[\]/],
    [
      'an unsupported model_type',
      { ...SMOLLM2, model_type: 'gemma', architectures: ['GemmaForCausalLM'] },
      `model_type: model_type "gemma" is not supported (supported: gpt2, llama, mistral, qwen2; architectures ${SUPPORTED})`,
    ],
    [
      'an unsupported architecture',
      { ...SMOLLM2, architectures: ['LlamaForSequenceClassification'] },
      `architectures: "LlamaForSequenceClassification" is not supported (supported: ${SUPPORTED})`,
    ],
    [
      'an architecture of another model_type',
      { ...SMOLLM2, architectures: ['Qwen2ForCausalLM'] },
      "architectures: Qwen2ForCausalLM needs model_type 'qwen2', found 'llama'",
    ],
    [
      'two architectures',
      { ...GPT2, architectures: ['GPT2LMHeadModel', 'GPT2Model'] },
      'expected exactly one',
    ],
    ['a missing size', { ...GPT2, n_embd: undefined }, 'n_embd: missing; expected number'],
    [
      'a size that is not an integer',
      { ...SMOLLM2, hidden_size: 57.5 },
      /hidden_size: expected int, found 57\.5/,
    ],
    [
      'a vocabulary beyond the model limit',
      { ...GPT2, vocab_size: 2 ** 21 },
      /vocab_size: .*1048576.*found 2097152/,
    ],
    ['heads that do not divide the width', { ...GPT2, n_head: 7 }, 'n_head (7) must divide n_embd (768)'],
    [
      'kv heads that do not divide the heads',
      { ...SMOLLM2, num_key_value_heads: 2 },
      'num_key_value_heads (2) must divide num_attention_heads (9)',
    ],
    [
      'an odd rotary head size',
      { ...SMOLLM2, head_dim: 63 },
      'rotary positions need an even head size, found 63',
    ],
    [
      'another Llama activation',
      { ...SMOLLM2, hidden_act: 'gelu_pytorch_tanh' },
      'hidden_act: activation "gelu_pytorch_tanh" is not supported (supported: silu)',
    ],
    [
      'another GPT-2 activation',
      { ...GPT2, activation_function: 'relu' },
      /activation_function: activation "relu"/,
    ],
    [
      'Llama-3 rope scaling',
      {
        ...SMOLLM2,
        rope_scaling: {
          factor: 32.0,
          high_freq_factor: 4.0,
          low_freq_factor: 1.0,
          original_max_position_embeddings: 8192,
          rope_type: 'llama3',
        },
      },
      'rope_scaling: rope scaling "llama3" is not supported: only unscaled rotary',
    ],
    [
      'linear rope scaling in the old key',
      { ...SMOLLM2, rope_scaling: { type: 'linear', factor: 2 } },
      'rope scaling "linear" is not supported',
    ],
    [
      'Qwen2 sliding windows',
      { ...QWEN2, use_sliding_window: true },
      'use_sliding_window: per-layer sliding-window attention is not supported',
    ],
    [
      'sliding layers in layer_types',
      { ...QWEN2, layer_types: ['full_attention', 'sliding_attention'] },
      'layer_types: "sliding_attention" is not supported',
    ],
    [
      'GPT-2 per-layer attention scaling',
      { ...GPT2, scale_attn_by_inverse_layer_idx: true },
      'scale_attn_by_inverse_layer_idx: per-layer attention scaling is not supported',
    ],
    ['GPT-2 cross-attention', { ...GPT2, add_cross_attention: true }, 'cross-attention is not supported'],
  ];
  it.each(cases)('refuses %s', (_what, raw, message) => {
    const call = () => spec(raw);
    expect(call).toThrow(message);
    expect(call).toThrow(/^Hugging Face config hf\/config\.json: /);
  });
});

describe('loadHfConfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'reprise-hf-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a file, and refuses bad JSON with its line and a missing file by its path', () => {
    const path = join(dir, 'config.json');
    writeFileSync(path, JSON.stringify(QWEN2, null, 2));
    expect(loadHfConfig(path).architecture).toBe('Qwen2ForCausalLM');
    writeFileSync(path, '{\n  "model_type": "gpt2",\n  oops\n}');
    expect(() => loadHfConfig(path)).toThrow(
      new RegExp(`^Hugging Face config ${path}:3:\\d+: not valid JSON`),
    );
    expect(() => loadHfConfig(join(dir, 'missing.json'))).toThrow(
      `Hugging Face config ${join(dir, 'missing.json')} does not exist`,
    );
  });
});
