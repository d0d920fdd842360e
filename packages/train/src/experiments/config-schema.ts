/**
 * @file The experiment config's schema, declared once with zod (helpers in `io/validate.ts`); the config's
 * TypeScript types are inferred from it. The option records are checked against the interfaces they configure,
 * so a field added to (or removed from) `FinetuneOptions`, `PretrainOptions` or the model config does not
 * compile until it is declared (or dropped) here. Relations that need no file are refinements here; those that
 * need the backbone's model (layer numbers) are checked by `validateExperimentConfig` in `config.ts`.
 */
import { type ArchitectureField, CONFIG_FIELD_LIMITS, type TransformerConfig } from '@reprise/model';
import { z } from 'zod';
import { SYNTHETIC_WORDS } from '../data/index.ts';
import { quote, strictObject } from '../io/validate.ts';
import type { FinetuneOptions } from '../training/finetune.ts';
import { METHODS } from '../training/methods.ts';
import type { PretrainOptions } from '../training/pretrain.ts';

export const EXPERIMENT_TASKS = ['pos-universal', 'pos-brown', 'names', 'synthetic'] as const;

/** One schema per field of `T`, each giving a value of the field's type: a missing, extra or mistyped field fails. */
type Fields<T> = { [K in keyof T]-?: z.ZodType<NonNullable<T[K]>> };

// Each leaf has one message saying what it must be, whichever check fails (type, integer, range).
const expecting = (what: string) => ({ error: `expected ${what}` });

const int = (min: number, max?: number) => {
  const e = expecting(max === undefined ? `an integer ≥ ${min}` : `an integer in [${min}, ${max}]`);
  const s = z.number(e).int(e).min(min, e);
  return max === undefined ? s : s.max(max, e);
};
/** A finite number in [min, max], or (min, max] / [min, max) where a bound is exclusive. */
const num = (
  min: number,
  max = Number.POSITIVE_INFINITY,
  o: { minExclusive?: boolean; maxExclusive?: boolean } = {},
) => {
  const upper = max === Number.POSITIVE_INFINITY ? '∞)' : `${max}${o.maxExclusive ? ')' : ']'}`;
  const e = expecting(`a number in ${o.minExclusive ? '(' : '['}${min}, ${upper}`);
  const s = o.minExclusive ? z.number(e).gt(min, e) : z.number(e).min(min, e);
  return max === Number.POSITIVE_INFINITY ? s : o.maxExclusive ? s.lt(max, e) : s.max(max, e);
};
const bool = z.boolean(expecting('true or false'));
const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, expecting(`one of ${values.map((v) => JSON.stringify(v)).join(', ')}`));
/** A list of `what` (plural, for messages); non-empty unless said otherwise. */
const list = <S extends z.ZodType>(item: S, what: string, o: { nonEmpty?: boolean } = {}) => {
  const s = z.array(item, expecting(`a list of ${what}`));
  return o.nonEmpty === false ? s : s.min(1, expecting(`a non-empty list of ${what}`));
};
const nonEmptyString = (what: string) => z.string(expecting(what)).min(1, expecting(what));
/** Every field of a record optional (the config sets only what differs from the defaults). */
const optional = <S extends Record<string, z.ZodType>>(fields: S) =>
  Object.fromEntries(Object.entries(fields).map(([k, s]) => [k, s.optional()])) as {
    [K in keyof S]: z.ZodOptional<S[K]>;
  };

/** Model sizes are capped as in a checkpoint's config.json, so that nothing huge is ever built from a config. */
const size = (key: keyof typeof CONFIG_FIELD_LIMITS) => int(1, CONFIG_FIELD_LIMITS[key]);

const MODEL = {
  dModel: size('dModel'),
  heads: size('heads'),
  layers: size('layers'),
  dFF: size('dFF'),
  maxPositions: size('maxPositions'),
  dropout: num(0, 1, { maxExclusive: true }),
  positions: oneOf(['rotary', 'learned']),
  tieEmbeddings: bool,
  // The block's variant (RMSNorm, SwiGLU, grouped-query heads, biases) is for imported models: not set here.
} satisfies Fields<Omit<TransformerConfig, 'vocabSize' | 'kind' | ArchitectureField>>;

const PRETRAIN = {
  /** The backbone's shape; `kind` is set per backbone and `vocabSize` by the tokenizer. */
  model: strictObject(optional(MODEL)),
  vocabSize: int(2, CONFIG_FIELD_LIMITS.vocabSize),
  steps: int(1),
  batchSize: int(1),
  context: int(2),
  lr: num(0, Number.POSITIVE_INFINITY, { minExclusive: true }),
  warmupSteps: int(0),
  weightDecay: num(0),
  clip: num(0),
  seed: int(0),
  evalEvery: int(1),
  evalBatches: int(1),
  checkpointEvery: int(0),
  repeatFraction: num(0, 1),
} satisfies Fields<PretrainOptions>;

/**
 * The fine-tuning defaults a config may set. `method`, `r` and `layer` name a variant (see `variantKey`) and
 * `seed` comes from the run, so they are set per variant and per run only, never silently overridden here.
 * `maxTokens` has the cap a labeler checkpoint's config.json has. Grids fine-tune every weight (no `lora`).
 */
const FINETUNE = {
  unmaskedLayers: list(int(0), 'layer numbers (integers ≥ 0)', { nonEmpty: false }),
  finalNorm: bool,
  separator: bool,
  positions: oneOf(['continue', 'reset']),
  lastCopyOnly: bool,
  headDropout: num(0, 1, { maxExclusive: true }),
  epochs: int(1),
  patience: int(0),
  batchSize: int(1),
  lr: num(0, Number.POSITIVE_INFINITY, { minExclusive: true }),
  weightDecay: num(0),
  warmupRatio: num(0, 1),
  clip: num(0),
  maxTokens: int(1, CONFIG_FIELD_LIMITS.maxPositions),
  labelSubword: oneOf(['first', 'last']),
} satisfies Fields<Omit<FinetuneOptions, 'seed' | 'method' | 'r' | 'layer' | 'lora'>>;

/**
 * A variant: its method, and the fine-tuning fields that name it (see `variantKey`), each a fine-tuning option.
 * `r` has the cap a labeler checkpoint's config.json has; `layer` is checked against the backbone in config.ts.
 */
const VARIANT = {
  method: oneOf(METHODS),
  r: int(1, 1024),
  layer: int(1, CONFIG_FIELD_LIMITS.layers),
  positions: FINETUNE.positions,
  separator: FINETUNE.separator,
  lastCopyOnly: FINETUNE.lastCopyOnly,
  labelSubword: FINETUNE.labelSubword,
  unmaskedLayers: FINETUNE.unmaskedLayers,
} satisfies Partial<Fields<FinetuneOptions>>;

const variantSchema = strictObject({ ...optional(VARIANT), method: VARIANT.method });

const seeds = list(int(0), 'seeds (integers ≥ 0)');
const sentencesError = expecting('an integer ≥ 1 or "all"');
/** A number of Brown sentences of a split, or the whole split. */
const sentences = z.union(
  [z.number(sentencesError).int(sentencesError).min(1, sentencesError), z.literal('all', sentencesError)],
  sentencesError,
);

const directory = nonEmptyString('a directory path (a non-empty string)');

const groupSchema = strictObject({
  /** Identifier (used in the log). */
  name: nonEmptyString('a non-empty string'),
  /** The title of the group's table. */
  title: z.string(expecting('a string')),
  tasks: list(oneOf(EXPERIMENT_TASKS), `tasks (${EXPERIMENT_TASKS.join(', ')})`),
  variants: list(variantSchema, 'variants'),
  /** Seeds for this group (default: the experiment's). */
  seeds: seeds.optional(),
  /**
   * Brown training sentences of this group's runs, one set of runs per entry (default: `data.trainSentences`
   * only): a learning curve lists several. The synthetic task keeps its own budget.
   */
  trainSentences: list(sentences, 'budgets (integers ≥ 1 or "all")').optional(),
  /**
   * Another decoder for this group's runs (a checkpoint directory relative to the config file), e.g. one
   * pretrained without repeated text: the runs get their own ids, and its induction score is logged.
   */
  decoder: directory.optional(),
  /**
   * Most fine-tuning epochs for this group's runs (default: `finetune.epochs`), e.g. to measure what the grid's
   * epoch cap costs: the runs get their own ids.
   */
  epochs: FINETUNE.epochs.optional(),
});

const experimentFields = strictObject({
  name: z
    .string(expecting('a word (letters, digits, . _ -)'))
    .regex(/^[\w.-]+$/, expecting('a word (letters, digits, . _ -)')),
  /** Fine-tuning seeds (the default of every group). */
  seeds,
  /** Backbones pretrained by the runner (exactly one of `pretrain` and `backbones` is given). */
  pretrain: strictObject({
    /** Shared by both backbones (the encoder changes only `model.kind`). */
    options: strictObject(optional(PRETRAIN)),
    /** Pretrain a masked-LM encoder of the same size on the same text and budget (needed by `encoder` runs). */
    encoder: bool,
  }).optional(),
  /**
   * Backbones pretrained beforehand (e.g. the shipped ones in `backbones/`): checkpoint directories, relative to
   * the config file. `encoder` is needed by `encoder` runs.
   */
  backbones: strictObject({ decoder: directory, encoder: directory.optional() }).optional(),
  data: strictObject({
    /** Sentences of each Brown split used (evenly spaced through the split, so every genre is in). */
    trainSentences: sentences,
    devSentences: sentences,
    testSentences: sentences,
    synthetic: strictObject({
      train: int(1),
      dev: int(1),
      test: int(1),
      classes: int(2, SYNTHETIC_WORDS.length),
      minWords: int(1),
      maxWords: int(1),
    }),
  }),
  /** Defaults of every run (a variant's fields override them; `method` and `seed` come from each run). */
  finetune: strictObject(optional(FINETUNE)),
  groups: list(groupSchema, 'groups'),
});

/** The relations between fields that need no file (the backbone's layers are checked in config.ts). */
function relations(c: z.output<typeof experimentFields>, ctx: z.RefinementCtx): void {
  const issue = (path: PropertyKey[], message: string) => ctx.addIssue({ code: 'custom', path, message });
  if ((c.pretrain === undefined) === (c.backbones === undefined))
    issue(
      [],
      `pretrain and backbones: exactly one must be given (pretrain: options to pretrain backbones here; backbones: directories of pretrained ones), found ${c.pretrain ? 'both' : 'neither'}`,
    );
  const { minWords, maxWords } = c.data.synthetic;
  if (minWords > maxWords)
    issue(
      ['data', 'synthetic', 'minWords'],
      `must not exceed data.synthetic.maxWords (${maxWords}), found ${minWords}`,
    );
  const names = new Set<string>();
  for (const [i, group] of c.groups.entries()) {
    if (names.has(group.name))
      issue(['groups', i, 'name'], `must be unique, found ${quote(group.name)} twice`);
    names.add(group.name);
    for (const [j, v] of group.variants.entries()) {
      if (v.method === 'encoder' && group.decoder !== undefined)
        issue(
          ['groups', i, 'variants', j],
          "an encoder run in a group with its own decoder (the group's decoder replaces the decoder only)",
        );
      if (v.method === 'encoder' && !(c.pretrain?.encoder || c.backbones?.encoder))
        issue(
          ['groups', i, 'variants', j],
          c.pretrain
            ? 'an encoder run, but pretrain.encoder is false (no encoder is pretrained)'
            : 'an encoder run, but backbones.encoder is not given',
        );
      if (v.method === 'unmask-layers' && !(v.unmaskedLayers ?? c.finetune.unmaskedLayers)?.length)
        issue(
          ['groups', i, 'variants', j, 'unmaskedLayers'],
          'must list the unmasked layers of an unmask-layers run, found nothing',
        );
    }
  }
}

/** The experiment config: every field's shape, then (on a well-formed config only) the relations. */
export const experimentConfigSchema = experimentFields.superRefine(relations, {
  when: (payload) => payload.issues.length === 0,
});

export type ExperimentConfig = z.output<typeof experimentConfigSchema>;
export type ExperimentTask = (typeof EXPERIMENT_TASKS)[number];
/** What a run changes from the fine-tuning defaults. */
export type Variant = z.output<typeof variantSchema>;
export type RunGroup = z.output<typeof groupSchema>;
/** A number of Brown sentences of a split, or the whole split. */
export type TrainSentences = z.output<typeof sentences>;
/** The fine-tuning defaults a config may set. */
export type FinetuneDefaults = ExperimentConfig['finetune'];
/** What the config may set of the pretraining options (`model.kind` is set per backbone). */
export type ExperimentPretrainOptions = NonNullable<ExperimentConfig['pretrain']>['options'];
