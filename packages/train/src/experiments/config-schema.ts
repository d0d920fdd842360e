/**
 * @file The experiment config's schema: one declaration per field. The records are typed against the option
 * interfaces they configure, so a field added to (or removed from) `FinetuneOptions`, `PretrainOptions` or the
 * model config does not compile until it is declared (or dropped) here.
 */
import type { TransformerConfig } from '@reprise/model';
import { SYNTHETIC_WORDS } from '../data/index.ts';
import type { FinetuneOptions } from '../training/finetune.ts';
import { METHODS } from '../training/methods.ts';
import type { PretrainOptions } from '../training/pretrain.ts';
import type { RunGroup, Variant } from './config.ts';
import { type Spec, bool, int, leaf, list, num, object, oneOf, optional } from './schema.ts';

export const EXPERIMENT_TASKS = ['pos-universal', 'pos-brown', 'names', 'synthetic'] as const;

const opt = (fields: Record<string, Spec>) =>
  Object.fromEntries(Object.entries(fields).map(([k, s]) => [k, optional(s)]));

const MODEL: Record<keyof Omit<TransformerConfig, 'vocabSize' | 'kind'>, Spec> = {
  dModel: int(1),
  heads: int(1),
  layers: int(1),
  dFF: int(1),
  maxPositions: int(1),
  dropout: num(0, 1, { maxExclusive: true }),
  positions: oneOf(['rotary', 'learned'] as const),
  tieEmbeddings: bool,
};

const PRETRAIN: Record<keyof PretrainOptions, Spec> = {
  model: object(opt(MODEL)),
  vocabSize: int(2),
  steps: int(1),
  batchSize: int(1),
  context: int(2),
  lr: num(0, Number.POSITIVE_INFINITY, { minExclusive: true }),
  warmupSteps: int(0),
  weightDecay: num(0, Number.POSITIVE_INFINITY),
  clip: num(0, Number.POSITIVE_INFINITY),
  seed: int(0),
  evalEvery: int(1),
  evalBatches: int(1),
  checkpointEvery: int(0),
  repeatFraction: num(0, 1),
};

/**
 * The fine-tuning defaults a config may set. `method`, `r` and `layer` name a variant (see `variantKey`) and
 * `seed` comes from the run, so they are set per variant and per run only, never silently overridden here.
 */
const FINETUNE: Record<keyof Omit<FinetuneOptions, 'seed' | 'method' | 'r' | 'layer'>, Spec> = {
  unmaskedLayers: list(int(0), false),
  finalNorm: bool,
  separator: bool,
  positions: oneOf(['continue', 'reset'] as const),
  lastCopyOnly: bool,
  headDropout: num(0, 1, { maxExclusive: true }),
  epochs: int(1),
  patience: int(0),
  batchSize: int(1),
  lr: num(0, Number.POSITIVE_INFINITY, { minExclusive: true }),
  weightDecay: num(0, Number.POSITIVE_INFINITY),
  warmupRatio: num(0, 1),
  clip: num(0, Number.POSITIVE_INFINITY),
  maxTokens: int(1),
  labelSubword: oneOf(['first', 'last'] as const),
};

/** A variant: its method, and the fine-tuning fields that name it (see `variantKey`), declared once above. */
const VARIANT: Record<keyof Variant, Spec> = {
  method: oneOf(METHODS),
  r: int(1),
  layer: int(1),
  positions: FINETUNE.positions,
  separator: FINETUNE.separator,
  lastCopyOnly: FINETUNE.lastCopyOnly,
  labelSubword: FINETUNE.labelSubword,
  unmaskedLayers: FINETUNE.unmaskedLayers,
};

const seeds = list(int(0));
const SENTENCES = leaf(
  'an integer ≥ 1 or "all"',
  (v) => v === 'all' || (Number.isInteger(v) && (v as number) >= 1),
);

const GROUP: Record<keyof RunGroup, Spec> = {
  name: leaf('a non-empty string', (v) => typeof v === 'string' && v.length > 0),
  title: leaf('a string', (v) => typeof v === 'string'),
  tasks: list(oneOf(EXPERIMENT_TASKS)),
  variants: list(object({ ...opt(VARIANT), method: VARIANT.method })),
  seeds,
  trainSentences: list(SENTENCES),
};

const directory = leaf('a directory path (a non-empty string)', (v) => typeof v === 'string' && v.length > 0);

export const EXPERIMENT_SCHEMA = object({
  name: leaf('a word (letters, digits, . _ -)', (v) => typeof v === 'string' && /^[\w.-]+$/.test(v)),
  seeds,
  pretrain: optional(object({ options: object(opt(PRETRAIN)), encoder: bool })),
  backbones: optional(object({ decoder: directory, encoder: optional(directory) })),
  data: object({
    trainSentences: SENTENCES,
    devSentences: SENTENCES,
    testSentences: SENTENCES,
    synthetic: object({
      train: int(1),
      dev: int(1),
      test: int(1),
      classes: int(2, SYNTHETIC_WORDS.length),
      minWords: int(1),
      maxWords: int(1),
    }),
  }),
  finetune: object(opt(FINETUNE)),
  groups: list(
    object({ ...GROUP, seeds: optional(GROUP.seeds), trainSentences: optional(GROUP.trainSentences) }),
  ),
});
