/**
 * @file A Hugging Face `config.json`, read and normalized into one typed `HfModelSpec`: what the model's blocks
 * are (norm, activation, positions, biases, head sharing), independent of each family's key names.
 *
 * Supported: GPT-2 (`GPT2LMHeadModel`) and the Llama family (`LlamaForCausalLM`, `MistralForCausalLM`,
 * `Qwen2ForCausalLM`), and each one's `…ForTokenClassification` (what export writes for a tagger). HF configs
 * carry many keys we have no use for (dropouts, token ids, `torch_dtype`...), so unknown keys are tolerated;
 * the keys that size the model are required, and the ones HF itself defaults take the defaults of the family's
 * config class in transformers (e.g. `tie_word_embeddings`, which `save_pretrained` leaves out when it is
 * true). Anything that would change the computation in a way this project does not implement (rope scaling,
 * cross-attention, per-layer sliding windows, another activation) is refused with the reason.
 */
import { CONFIG_FIELD_LIMITS } from '@reprise/model';
import { z } from 'zod';
import { InvalidFileError, parseWith, quote, readJsonFile } from '../io/validate.ts';

/** Each supported `architectures[0]`, with its `model_type` and head. */
export const HF_ARCHITECTURES = {
  GPT2LMHeadModel: { modelType: 'gpt2', head: 'lm' },
  GPT2ForTokenClassification: { modelType: 'gpt2', head: 'token-classification' },
  LlamaForCausalLM: { modelType: 'llama', head: 'lm' },
  LlamaForTokenClassification: { modelType: 'llama', head: 'token-classification' },
  MistralForCausalLM: { modelType: 'mistral', head: 'lm' },
  MistralForTokenClassification: { modelType: 'mistral', head: 'token-classification' },
  Qwen2ForCausalLM: { modelType: 'qwen2', head: 'lm' },
  Qwen2ForTokenClassification: { modelType: 'qwen2', head: 'token-classification' },
} as const;
export type HfArchitecture = keyof typeof HF_ARCHITECTURES;
export type HfModelType = (typeof HF_ARCHITECTURES)[HfArchitecture]['modelType'];
const ARCHITECTURE_NAMES = Object.keys(HF_ARCHITECTURES) as HfArchitecture[];
const MODEL_TYPES = [...new Set(Object.values(HF_ARCHITECTURES).map((a) => a.modelType))];

/** The model a config describes, in the project's terms. Tensor names and shapes follow from it (names.ts). */
export interface HfModelSpec {
  architecture: HfArchitecture;
  modelType: HfModelType;
  /** Which tensor naming scheme the weights use: GPT-2's, or the one the Llama family shares. */
  family: 'gpt2' | 'llama';
  vocabSize: number;
  dModel: number;
  layers: number;
  /** Query heads. */
  heads: number;
  /** Key/value heads: `heads` without grouped-query attention, a divisor of it with. */
  kvHeads: number;
  /** Width of one head; `heads · headDim` may differ from dModel when the config says so (`head_dim`). */
  headDim: number;
  /** Hidden width of the MLP. */
  dFF: number;
  /** LayerNorm has a gain and a bias; RMSNorm only a gain. */
  norm: { kind: 'layer' | 'rms'; eps: number };
  /** `gelu_tanh`: GPT-2's tanh approximation; `silu_glu`: down(silu(gate(x)) · up(x)). */
  activation: 'gelu_tanh' | 'gelu' | 'silu_glu';
  /** Rotary in HF's half-split convention (rotate_half), base frequency `theta`. */
  positions: { kind: 'learned' } | { kind: 'rotary'; theta: number; convention: 'half-split' };
  qkvBias: boolean;
  /** The attention output projection has a bias. */
  oBias: boolean;
  mlpBias: boolean;
  /** The LM head is the token embedding (then the file usually has no head tensor). */
  tiedHead: boolean;
  /** Longest sequence: the learned position table's size, or the rotary model's trained context. */
  maxPositions: number;
  /**
   * Mistral's sliding attention window: attention is full for sequences up to this length and differs
   * beyond it, so a user of the spec must keep sequences within it. Null when there is none.
   */
  slidingWindow: number | null;
  head: { kind: 'lm' } | { kind: 'token-classification'; labels: string[] };
}

const size = (max: number) => z.number().int().positive().max(max);
const eps = z.number().positive().max(1);
const L = CONFIG_FIELD_LIMITS;
/** kv heads and head_dim may be absent or null: derived from the other sizes, as transformers does. */
const optionalSize = (max: number) => size(max).nullish();

/** id2label → labels in id order; ids must be 0..n-1. HF's default (left out of files) is two labels. */
const id2label = z
  .record(z.string(), z.string())
  .optional()
  .transform((m, ctx) => {
    if (m === undefined) return ['LABEL_0', 'LABEL_1'];
    if (Object.keys(m).length === 0) {
      ctx.addIssue({ code: 'custom', message: 'expected at least one label, found {}' });
      return z.NEVER;
    }
    const labels: string[] = [];
    for (let i = 0; i < Object.keys(m).length; i++) {
      if (!Object.hasOwn(m, String(i))) {
        ctx.addIssue({
          code: 'custom',
          message: `ids must be 0..${Object.keys(m).length - 1}; id ${i} is missing (found ${quote(Object.keys(m))})`,
        });
        return z.NEVER;
      }
      labels.push(m[String(i)]);
    }
    return labels;
  });

const gpt2Schema = z.looseObject({
  vocab_size: size(L.vocabSize),
  n_embd: size(L.dModel),
  n_layer: size(L.layers),
  n_head: size(L.heads),
  n_positions: size(L.maxPositions),
  n_inner: size(L.dFF).nullish(),
  layer_norm_epsilon: eps.default(1e-5),
  // gelu_new, gelu_pytorch_tanh and gelu_fast are the same tanh approximation written three ways.
  activation_function: z
    .enum(['gelu_new', 'gelu_pytorch_tanh', 'gelu_fast', 'gelu'], {
      error: (iss) =>
        `activation ${quote(iss.input)} is not supported (supported: gelu_new, gelu_pytorch_tanh, gelu_fast, gelu)`,
    })
    .default('gelu_new'),
  tie_word_embeddings: z.boolean().default(true),
  scale_attn_weights: z
    .literal(true, { error: 'only scaled attention (scale_attn_weights: true) is supported' })
    .default(true),
  scale_attn_by_inverse_layer_idx: z
    .literal(false, { error: 'per-layer attention scaling is not supported; expected false' })
    .default(false),
  add_cross_attention: z
    .literal(false, { error: 'cross-attention is not supported in a decoder; expected false' })
    .default(false),
  id2label,
});

/**
 * rope_scaling (and transformers 5's rope_parameters): unscaled only. The others (linear, dynamic, yarn, llama3,
 * longrope) change the rotary frequencies or their use, which the rotary tables (one base frequency) do not do.
 */
const ropeScaling = z
  .union(
    [
      z.null(),
      z.looseObject({
        rope_type: z.string().optional(),
        type: z.string().optional(),
        rope_theta: z.number().positive().optional(),
      }),
    ],
    { error: 'expected null or an object' },
  )
  .optional()
  .refine((s) => s == null || (s.rope_type ?? s.type ?? 'default') === 'default', {
    error: (iss) => {
      const s = iss.input as { rope_type?: string; type?: string };
      return `rope scaling ${quote(s.rope_type ?? s.type)} is not supported: only unscaled rotary (null or rope_type "default") is; the rotary tables take one base frequency, rope_theta`;
    },
  });

const llamaSchema = z.looseObject({
  vocab_size: size(L.vocabSize),
  hidden_size: size(L.dModel),
  intermediate_size: size(L.dFF),
  num_hidden_layers: size(L.layers),
  num_attention_heads: size(L.heads),
  num_key_value_heads: optionalSize(L.heads),
  head_dim: optionalSize(L.dModel),
  max_position_embeddings: size(L.maxPositions),
  rms_norm_eps: eps.default(1e-6),
  rope_theta: z.number().positive().default(10000),
  rope_scaling: ropeScaling,
  rope_parameters: ropeScaling,
  hidden_act: z
    .literal('silu', { error: (iss) => `activation ${quote(iss.input)} is not supported (supported: silu)` })
    .default('silu'),
  tie_word_embeddings: z.boolean().default(false),
  attention_bias: z.boolean().default(false),
  mlp_bias: z.boolean().default(false),
  sliding_window: size(L.maxPositions).nullish(),
  use_sliding_window: z.boolean().default(false),
  layer_types: z.array(z.string()).optional(),
  id2label,
});

const headerSchema = z.looseObject({
  model_type: z.enum(MODEL_TYPES as [HfModelType, ...HfModelType[]], {
    error: (iss) =>
      `model_type ${quote(iss.input)} is not supported (supported: ${MODEL_TYPES.join(', ')}; architectures ${ARCHITECTURE_NAMES.join(', ')})`,
  }),
  architectures: z.array(z.string()).min(1).max(1, 'expected exactly one architecture').optional(),
});

const WHAT = 'Hugging Face config';

/** The spec of a parsed config.json (`file` names it in errors). */
export function hfModelSpec(raw: unknown, file: string): HfModelSpec {
  const header = parseWith(headerSchema, raw, file, { what: WHAT });
  const fail = (msg: string): never => {
    throw new InvalidFileError(file, `${WHAT} ${file}: ${msg}`);
  };
  // Without `architectures`, transformers' Auto classes go by model_type; we take its causal LM.
  const architecture = (header.architectures?.[0] ??
    ARCHITECTURE_NAMES.find(
      (a) => HF_ARCHITECTURES[a].modelType === header.model_type && HF_ARCHITECTURES[a].head === 'lm',
    )) as HfArchitecture;
  if (!Object.hasOwn(HF_ARCHITECTURES, architecture))
    fail(
      `architectures: ${quote(architecture)} is not supported (supported: ${ARCHITECTURE_NAMES.join(', ')})`,
    );
  const arch = HF_ARCHITECTURES[architecture];
  if (arch.modelType !== header.model_type)
    fail(`architectures: ${architecture} needs model_type '${arch.modelType}', found '${header.model_type}'`);
  const head = (labels: string[]): HfModelSpec['head'] =>
    arch.head === 'lm' ? { kind: 'lm' } : { kind: 'token-classification', labels };
  const common = { architecture, modelType: arch.modelType };

  if (arch.modelType === 'gpt2') {
    const c = parseWith(gpt2Schema, raw, file, { what: WHAT });
    if (c.n_embd % c.n_head !== 0)
      fail(`n_head (${c.n_head}) must divide n_embd (${c.n_embd}); found remainder ${c.n_embd % c.n_head}`);
    return {
      ...common,
      family: 'gpt2',
      vocabSize: c.vocab_size,
      dModel: c.n_embd,
      layers: c.n_layer,
      heads: c.n_head,
      kvHeads: c.n_head,
      headDim: c.n_embd / c.n_head,
      dFF: c.n_inner ?? 4 * c.n_embd,
      norm: { kind: 'layer', eps: c.layer_norm_epsilon },
      activation: c.activation_function === 'gelu' ? 'gelu' : 'gelu_tanh',
      positions: { kind: 'learned' },
      qkvBias: true,
      oBias: true,
      mlpBias: true,
      tiedHead: c.tie_word_embeddings,
      maxPositions: c.n_positions,
      slidingWindow: null,
      head: head(c.id2label),
    };
  }

  const c = parseWith(llamaSchema, raw, file, { what: WHAT });
  const heads = c.num_attention_heads;
  const kvHeads = c.num_key_value_heads ?? heads;
  if (heads % kvHeads !== 0)
    fail(`num_key_value_heads (${kvHeads}) must divide num_attention_heads (${heads})`);
  if (c.head_dim == null && c.hidden_size % heads !== 0)
    fail(
      `num_attention_heads (${heads}) must divide hidden_size (${c.hidden_size}) when head_dim is not given`,
    );
  const headDim = c.head_dim ?? c.hidden_size / heads;
  if (headDim % 2 !== 0) fail(`rotary positions need an even head size, found ${headDim}`);
  // Qwen2 turns its window on per layer (use_sliding_window, max_window_layers; layer_types in newer files).
  if (arch.modelType === 'qwen2' && c.use_sliding_window)
    fail('use_sliding_window: per-layer sliding-window attention is not supported; expected false');
  const other = c.layer_types?.find((t) => t !== 'full_attention');
  if (other !== undefined)
    fail(`layer_types: ${quote(other)} is not supported; every layer must be "full_attention"`);
  // MistralConfig's default window is 4096: a file without the key has it, one with null has none.
  const window = c.sliding_window === undefined ? 4096 : c.sliding_window;
  return {
    ...common,
    family: 'llama',
    vocabSize: c.vocab_size,
    dModel: c.hidden_size,
    layers: c.num_hidden_layers,
    heads,
    kvHeads,
    headDim,
    dFF: c.intermediate_size,
    norm: { kind: 'rms', eps: c.rms_norm_eps },
    activation: 'silu_glu',
    positions: {
      kind: 'rotary',
      theta: c.rope_parameters?.rope_theta ?? c.rope_theta,
      convention: 'half-split',
    },
    // Qwen2's q/k/v always have a bias and its o never; Llama's attention_bias covers all four; Mistral none.
    qkvBias: arch.modelType === 'qwen2' || (arch.modelType === 'llama' && c.attention_bias),
    oBias: arch.modelType === 'llama' && c.attention_bias,
    mlpBias: arch.modelType === 'llama' && c.mlp_bias,
    tiedHead: c.tie_word_embeddings,
    maxPositions: c.max_position_embeddings,
    slidingWindow: arch.modelType === 'mistral' ? window : null,
    head: head(c.id2label),
  };
}

/** Reads `config.json` of a Hugging Face model directory (at most 16 MiB, nesting bounded). */
export function loadHfConfig(path: string): HfModelSpec {
  return hfModelSpec(readJsonFile(path, { what: WHAT, maxBytes: 16 * 2 ** 20, maxDepth: 16 }), path);
}
