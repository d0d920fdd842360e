/**
 * @file Exporting a model as a Hugging Face directory that transformers' `from_pretrained` loads: config.json
 * (`model_type`, `architectures`, `id2label`/`label2id` for a tagger), model.safetensors with `format: "pt"` and
 * HF's tensor names, tokenizer.json and tokenizer_config.json.
 *
 * Which architecture: an imported model's own. Otherwise the one whose blocks compute exactly what ours do, or a
 * refusal that says why: learned positions → GPT-2 (LayerNorm, tanh GELU, every bias, no grouped heads); rotary
 * positions → the Llama family (RMSNorm, SwiGLU, rotary in the half-split convention): Llama when q/k/v and o
 * have biases alike (attention_bias), Qwen2 when only q/k/v have them. The project's default rotary block
 * (LayerNorm + GELU) has no HF architecture.
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type LabelerOptions,
  type TransformerConfig,
  architecture as blockOf,
  causalLayers,
} from '@reprise/model';
import { writeDirAtomic } from '../io/atomic-dir.ts';
import type { HostTensor } from '../io/safetensors.ts';
import type { SpecialName } from '../tokenizer/index.ts';
import { HF_ARCHITECTURES, type HfArchitecture, type HfModelSpec, type HfModelType } from './config.ts';
import { HF_CONFIG_FILE } from './import.ts';
import { hfFromRoles } from './layout.ts';
import { hfRoleTensors } from './names.ts';
import { rolesFromProject } from './params.ts';
import { HF_WEIGHTS_FILE, encodeHfSafetensors } from './weights.ts';

/** What a tokenizer gives an export: its tokenizer.json and the contents of its special tokens. */
export interface ExportTokenizer {
  toJSON(): string;
  readonly special: Readonly<Partial<Record<SpecialName, number>>>;
  idToToken(id: number): string | undefined;
}

/** A tagger's head and how it was trained to read its input. */
export interface ExportTagger {
  labels: string[];
  settings: Omit<LabelerOptions, 'numLabels' | 'seed'>;
}

export interface HfExportInput {
  config: TransformerConfig;
  /** Parameters by the project's names: the backbone's, plus `head.weight`/`head.bias` for a tagger. */
  weights: Record<string, HostTensor>;
  tagger?: ExportTagger;
  /** An imported model's spec: it is written back as that architecture. */
  spec?: HfModelSpec;
  tokenizer: ExportTokenizer | null;
  /** tokenizer_config.json to copy as is (an imported model's own), instead of writing one. */
  tokenizerConfigJson?: string;
  /** Named in refusals: the checkpoint or directory exported. */
  source: string;
}

const refuse = (source: string, msg: string): never => {
  throw new Error(`cannot export ${source} as a Hugging Face model: ${msg}`);
};

/**
 * The HF model type whose blocks compute exactly what `cfg`'s do, or a refusal naming the difference. The
 * checks are field by field against what each family's modeling file computes.
 */
export function hfModelTypeFor(cfg: TransformerConfig, source: string): HfModelType {
  const a = blockOf(cfg);
  if (cfg.kind !== 'decoder')
    refuse(
      source,
      'it is an encoder (bidirectional attention in every layer); the supported Hugging Face architectures are causal decoders',
    );
  const differences = (want: [string, boolean][]) => want.filter(([, ok]) => !ok).map(([what]) => what);
  if (cfg.positions === 'learned') {
    const off = differences([
      ['LayerNorm (found RMSNorm)', a.norm === 'layer'],
      ['a GELU MLP (found SwiGLU)', a.mlp === 'gelu'],
      [
        `as many key/value heads as query heads (found ${a.kvHeads} of ${cfg.heads})`,
        a.kvHeads === cfg.heads,
      ],
      ['q/k/v biases', a.qkvBias],
      ['an attention output bias', a.attnOutBias],
      ['MLP biases', a.mlpBias],
    ]);
    if (off.length > 0)
      refuse(
        source,
        `learned positions export as GPT-2, whose blocks have ${['LayerNorm', 'tanh GELU', 'every bias', 'no grouped heads'].join(', ')}; this model's lack ${off.join(', ')}`,
      );
    return 'gpt2';
  }
  const off = differences([
    ['RMSNorm (found LayerNorm)', a.norm === 'rms'],
    ['a SwiGLU MLP (found GELU)', a.mlp === 'swiglu'],
    ["rotary pairs in the half-split convention (found 'interleaved', GPT-J's)", a.rotary === 'half'],
  ]);
  if (off.length > 0)
    refuse(
      source,
      `rotary positions export to the Llama family (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM), whose blocks need ${off.join(', ')}; no Hugging Face architecture computes this model's block`,
    );
  if (a.qkvBias === a.attnOutBias) return 'llama';
  if (a.qkvBias && !a.attnOutBias && !a.mlpBias) return 'qwen2';
  return refuse(
    source,
    `q/k/v bias ${a.qkvBias}, output bias ${a.attnOutBias}, MLP bias ${a.mlpBias}: Llama has q/k/v and o biases alike (attention_bias), Qwen2 q/k/v biases only and no MLP bias`,
  );
}

/** The spec of the HF model `cfg` becomes (the first `layers` blocks of it for an early-exit tagger). */
function specFor(
  cfg: TransformerConfig,
  modelType: HfModelType,
  tagger: ExportTagger | undefined,
  layers: number,
): HfModelSpec {
  const a = blockOf(cfg);
  const head = tagger ? 'token-classification' : 'lm';
  const arch = (Object.keys(HF_ARCHITECTURES) as HfArchitecture[]).find(
    (k) => HF_ARCHITECTURES[k].modelType === modelType && HF_ARCHITECTURES[k].head === head,
  )!;
  return {
    architecture: arch,
    modelType,
    family: modelType === 'gpt2' ? 'gpt2' : 'llama',
    vocabSize: cfg.vocabSize,
    dModel: cfg.dModel,
    layers,
    heads: cfg.heads,
    kvHeads: a.kvHeads,
    headDim: a.headDim,
    dFF: cfg.dFF,
    norm: { kind: a.norm, eps: a.normEps },
    activation: a.mlp === 'swiglu' ? 'silu_glu' : 'gelu_tanh',
    positions:
      cfg.positions === 'learned'
        ? { kind: 'learned' }
        : { kind: 'rotary', theta: a.ropeTheta, convention: 'half-split' },
    qkvBias: a.qkvBias,
    oBias: a.attnOutBias,
    mlpBias: a.mlpBias,
    tiedHead: cfg.tieEmbeddings,
    maxPositions: cfg.maxPositions,
    slidingWindow: null,
    head: tagger ? { kind: 'token-classification', labels: tagger.labels } : { kind: 'lm' },
  };
}

/**
 * The first layers a tagger's head reads (its ℓ), refusing settings no `…ForTokenClassification` forward
 * computes. Sequence repetition is kept: HF's causal forward over the input repeated r+1 times, read at the last
 * copy, is exactly the labeler's (positions continue, no separator); config.json says so under `reprise`.
 */
function taggerLayers(cfg: TransformerConfig, t: ExportTagger, source: string): number {
  const s = t.settings;
  const layer = s.layer ?? cfg.layers;
  const causal = causalLayers(s.mask ?? 'causal', cfg.layers);
  if (!causal.slice(0, layer).every(Boolean))
    refuse(
      source,
      'the tagger removes the causal mask in some layers; Hugging Face decoders are causal in all',
    );
  if (s.finalNorm === false)
    refuse(source, "the tagger's head skips the final norm; a …ForTokenClassification head reads after it");
  if ((s.r ?? 0) > 0 && (s.positions ?? 'continue') !== 'continue')
    refuse(source, "the tagger restarts positions in each copy (--positions reset); Hugging Face's continue");
  if ((s.r ?? 0) > 0 && s.separator != null)
    refuse(
      source,
      'the tagger puts a separator token between copies; export one trained without --separator',
    );
  return layer;
}

/** config.json of `spec`: the keys its config class reads, as save_pretrained names them. */
export function hfConfigJson(
  spec: HfModelSpec,
  extra: { dropout: number; special: Partial<Record<SpecialName, number>> },
): Record<string, unknown> {
  const labels =
    spec.head.kind === 'token-classification'
      ? {
          id2label: Object.fromEntries(spec.head.labels.map((l, i) => [String(i), l])),
          label2id: Object.fromEntries(spec.head.labels.map((l, i) => [l, i])),
        }
      : {};
  const ids = Object.fromEntries(
    (['bos', 'eos', 'pad'] as const)
      .filter((k) => extra.special[k] !== undefined)
      .map((k) => [`${k}_token_id`, extra.special[k]]),
  );
  const common = {
    architectures: [spec.architecture],
    model_type: spec.modelType,
    vocab_size: spec.vocabSize,
    tie_word_embeddings: spec.tiedHead,
    torch_dtype: 'float32',
    ...ids,
    ...labels,
  };
  if (spec.family === 'gpt2')
    return {
      ...common,
      n_embd: spec.dModel,
      n_layer: spec.layers,
      n_head: spec.heads,
      n_positions: spec.maxPositions,
      n_inner: spec.dFF,
      activation_function: 'gelu_new',
      layer_norm_epsilon: spec.norm.eps,
      // The project has no attention dropout.
      attn_pdrop: 0,
      embd_pdrop: extra.dropout,
      resid_pdrop: extra.dropout,
      scale_attn_weights: true,
      scale_attn_by_inverse_layer_idx: false,
      reorder_and_upcast_attn: false,
    };
  const theta = spec.positions.kind === 'rotary' ? spec.positions.theta : 10000;
  return {
    ...common,
    hidden_size: spec.dModel,
    intermediate_size: spec.dFF,
    num_hidden_layers: spec.layers,
    num_attention_heads: spec.heads,
    num_key_value_heads: spec.kvHeads,
    head_dim: spec.headDim,
    max_position_embeddings: spec.maxPositions,
    rms_norm_eps: spec.norm.eps,
    rope_theta: theta,
    rope_scaling: null,
    hidden_act: 'silu',
    attention_dropout: 0,
    ...(spec.modelType === 'llama' ? { attention_bias: spec.qkvBias, mlp_bias: spec.mlpBias } : {}),
    ...(spec.modelType === 'mistral' ? { sliding_window: spec.slidingWindow } : {}),
    ...(spec.modelType === 'qwen2' ? { use_sliding_window: false, sliding_window: null } : {}),
  };
}

/** tokenizer_config.json for transformers' PreTrainedTokenizerFast, naming the special tokens it has. */
function tokenizerConfigJson(tokenizer: ExportTokenizer, maxLength: number): Record<string, unknown> {
  const names: SpecialName[] = ['bos', 'eos', 'unk', 'pad', 'sep', 'mask'];
  const tokens = Object.fromEntries(
    names.flatMap((k) => {
      const id = tokenizer.special[k];
      const content = id === undefined ? undefined : tokenizer.idToToken(id);
      return content === undefined ? [] : [[`${k}_token`, content]];
    }),
  );
  return { tokenizer_class: 'PreTrainedTokenizerFast', model_max_length: maxLength, ...tokens };
}

/** Why an existing directory at `out` may not be replaced: only an empty one or an earlier HF export may. */
function notAnExport(dir: string): string | null {
  if (readdirSync(dir).length === 0) return null;
  const path = join(dir, HF_CONFIG_FILE);
  try {
    if (Object.hasOwn(JSON.parse(readFileSync(path, 'utf8')), 'model_type')) return null;
  } catch {
    // Unreadable or not JSON: not an export.
  }
  return 'it is neither empty nor a Hugging Face model directory (config.json with model_type)';
}

/** What `exportHf` wrote. */
export interface HfExportResult {
  spec: HfModelSpec;
  files: string[];
}

/** Writes `input` as a Hugging Face model directory at `out`, all or nothing (an existing export is replaced). */
export function exportHf(out: string, input: HfExportInput): HfExportResult {
  const { config: cfg, tagger, source } = input;
  const layers = tagger ? taggerLayers(cfg, tagger, source) : cfg.layers;
  let spec: HfModelSpec;
  if (input.spec) {
    const head: HfModelSpec['head'] = tagger
      ? { kind: 'token-classification', labels: tagger.labels }
      : { kind: 'lm' };
    spec = { ...input.spec, layers, head };
  } else spec = specFor(cfg, hfModelTypeFor(cfg, source), tagger, layers);
  const roles = hfRoleTensors(spec);
  const hf = hfFromRoles(
    roles,
    rolesFromProject(
      cfg,
      roles.map((r) => r.role),
      input.weights,
    ),
  );
  const special = input.tokenizer?.special ?? {};
  const configJson = hfConfigJson(spec, { dropout: cfg.dropout, special });
  const r = tagger?.settings.r ?? 0;
  if (r > 0)
    configJson.reprise = {
      sequence_repetition: r,
      note: `trained with sequence repetition: feed the input ids repeated ${r + 1} times (BOS included, if any) and read the labels at the last copy`,
    };
  const files = [HF_CONFIG_FILE, HF_WEIGHTS_FILE];
  writeDirAtomic(
    out,
    (tmp) => {
      writeFileSync(join(tmp, HF_CONFIG_FILE), `${JSON.stringify(configJson, null, 2)}\n`);
      writeFileSync(join(tmp, HF_WEIGHTS_FILE), encodeHfSafetensors(hf));
      if (input.tokenizer) {
        writeFileSync(join(tmp, 'tokenizer.json'), input.tokenizer.toJSON());
        const tokConfig =
          input.tokenizerConfigJson ??
          `${JSON.stringify(tokenizerConfigJson(input.tokenizer, cfg.maxPositions), null, 2)}\n`;
        writeFileSync(join(tmp, 'tokenizer_config.json'), tokConfig);
        files.push('tokenizer.json', 'tokenizer_config.json');
      }
    },
    { refuseReplacing: notAnExport },
  );
  return { spec, files };
}
