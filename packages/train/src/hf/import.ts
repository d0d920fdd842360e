/**
 * @file Importing a Hugging Face model directory: its config as the project's `TransformerConfig` (refused where
 * the project's blocks would compute something else), its weights under the project's parameter names, its
 * tokenizer, and a `…ForTokenClassification` head as the labeler's.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Device } from '@reprise/core';
import {
  SequenceLabeler,
  Transformer,
  type TransformerConfig,
  rowBlockLayout,
  validateConfig,
} from '@reprise/model';
import { readJsonFile } from '../io/validate.ts';
import { type BpeTokenizer, type HfTokenizer, loadTokenizer } from '../tokenizer/index.ts';
import { fromHost } from '../training/weights.ts';
import { type HfModelSpec, loadHfConfig } from './config.ts';
import { rolesFromHf } from './layout.ts';
import { matchHfTensors } from './names.ts';
import { projectFromRoles } from './params.ts';
import { readHfWeightHeaders, readHfWeights } from './weights.ts';

export const HF_CONFIG_FILE = 'config.json';

export interface HfConfigOptions {
  /** The config file, named in refusals. */
  source: string;
  /** The project's dropout (embeddings and residual branches) while training; default 0. */
  dropout?: number;
}

/**
 * The project's config of a model `spec` describes, refusing (naming the file and the key) what the project's
 * blocks cannot compute exactly: GELU in its exact erf form (the project's is the tanh approximation) and a head
 * width other than dModel/heads (the project's q and o projections are dModel wide).
 */
export function transformerConfigFromHf(spec: HfModelSpec, opts: HfConfigOptions): TransformerConfig {
  const fail = (key: string, msg: string): never => {
    throw new Error(`Hugging Face config ${opts.source}: ${key}: ${msg}`);
  };
  if (spec.activation === 'gelu')
    fail(
      'activation_function',
      '"gelu" (exact GELU, with erf) is not supported: the project computes GELU in its tanh form only (gelu_new, gelu_pytorch_tanh, gelu_fast)',
    );
  if (spec.heads * spec.headDim !== spec.dModel)
    fail(
      'head_dim',
      `${spec.headDim} × ${spec.heads} heads = ${spec.heads * spec.headDim} is not hidden_size (${spec.dModel}); the project's heads are hidden_size / num_attention_heads = ${spec.dModel / spec.heads} wide`,
    );
  const learned = spec.positions.kind === 'learned';
  const config: TransformerConfig = {
    vocabSize: spec.vocabSize,
    dModel: spec.dModel,
    heads: spec.heads,
    layers: spec.layers,
    dFF: spec.dFF,
    maxPositions: spec.maxPositions,
    dropout: opts.dropout ?? 0,
    positions: learned ? 'learned' : 'rotary',
    // A token-classification model has no LM head: tying leaves none to load.
    tieEmbeddings: spec.head.kind === 'lm' ? spec.tiedHead : true,
    kind: 'decoder',
    norm: spec.norm.kind,
    normEps: spec.norm.eps,
    mlp: spec.activation === 'silu_glu' ? 'swiglu' : 'gelu',
    kvHeads: spec.kvHeads,
    ...(spec.positions.kind === 'rotary' ? { ropeTheta: spec.positions.theta, rotary: 'half' as const } : {}),
    qkvBias: spec.qkvBias,
    attnOutBias: spec.oBias,
    mlpBias: spec.mlpBias,
  };
  // The project's own limits (model bytes, sizes) and relations, said of this file.
  try {
    validateConfig(config);
  } catch (e) {
    throw new Error(`Hugging Face config ${opts.source}: ${(e as Error).message}`);
  }
  return config;
}

/**
 * Whether `dir` holds a Hugging Face model rather than one of the project's checkpoints: its config.json has a
 * top-level `model_type` (every config transformers writes has one; the project's own carry `kind` and
 * `model` instead, never `model_type`).
 */
export function isHfModelDir(dir: string): boolean {
  const path = join(dir, HF_CONFIG_FILE);
  if (!existsSync(path)) return false;
  const raw = readJsonFile(path, { maxBytes: 16 * 2 ** 20, maxDepth: 16 });
  return typeof raw === 'object' && raw !== null && !Array.isArray(raw) && Object.hasOwn(raw, 'model_type');
}

export interface ImportedHfModel {
  dir: string;
  spec: HfModelSpec;
  config: TransformerConfig;
  /** The backbone with the file's weights (a token-classification model's has no LM head). */
  model: Transformer;
  /** For a `…ForTokenClassification` file: the labeler that computes what it does (r = 0, head on the last layer). */
  labeler: SequenceLabeler | null;
  /** That labeler's labels, in id order (id2label). */
  labels: string[] | null;
  /** From tokenizer.json, when the directory has one. */
  tokenizer: BpeTokenizer | HfTokenizer | null;
}

/**
 * Loads a Hugging Face model directory: config.json, the weights (one file or shards; F32, F16, BF16, widened
 * to f32) checked name by name against the config before any is read, tokenizer.json when present.
 */
export function importHfModel(dir: string, device: Device, opts: { dropout?: number } = {}): ImportedHfModel {
  const source = join(dir, HF_CONFIG_FILE);
  const spec = loadHfConfig(source);
  const config = transformerConfigFromHf(spec, { source, dropout: opts.dropout });
  // Before reading gigabytes: a parameter the adapter cannot hold even in row blocks (row-blocks.ts).
  try {
    rowBlockLayout(config, device.backend.adapter.maxBufferBytes);
  } catch (e) {
    throw new Error(`Hugging Face model ${dir} (${device.describe()}): ${(e as Error).message}`);
  }
  const headers = readHfWeightHeaders(dir);
  const check = matchHfTensors(spec, headers.listing, headers.index ?? headers.files[0]!.path);
  const hf = readHfWeights(headers, new Set(check.tensors.map((t) => t.hf.name)));
  const {
    'head.weight': headW,
    'head.bias': headB,
    ...weights
  } = projectFromRoles(config, rolesFromHf(check.tensors, hf));
  const tokenizer = existsSync(join(dir, 'tokenizer.json')) ? loadTokenizer(dir) : null;
  if (tokenizer && tokenizer.vocabSize > spec.vocabSize)
    throw new Error(
      `Hugging Face model ${dir}: tokenizer.json has ${tokenizer.vocabSize} tokens but config.json's vocab_size is ${spec.vocabSize}`,
    );
  const model = new Transformer(device, config, fromHost(device, weights));
  const labels = spec.head.kind === 'token-classification' ? spec.head.labels : null;
  // transformers' heads read the last layer's output after the final norm, as the labeler's defaults do.
  const labeler = labels
    ? new SequenceLabeler(
        model,
        { numLabels: labels.length, r: 0 },
        fromHost(device, { 'head.weight': headW!, 'head.bias': headB! }),
      )
    : null;
  return { dir, spec, config, model, labeler, labels, tokenizer };
}
