/**
 * @file An experiment grid as a JSON file: the shared pretraining of a decoder (causal LM) and an encoder
 * (masked LM), the data budget, fine-tuning defaults, and groups of runs (tasks × variants × seeds). Loading
 * validates every field against `config-schema.ts` (unknown keys refused with the closest known one), then the
 * relations between fields, with the file and the field's JSON path in the message; `expandRuns` turns the groups into
 * the list of runs, each with a stable id (a run shared by two groups is run once).
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { TransformerConfig } from '@reprise/model';
import type { FinetuneOptions } from '../training/finetune.ts';
import { type Method, type MethodOptions, methodLabel } from '../training/methods.ts';
import type { PretrainOptions } from '../training/pretrain.ts';
import { EXPERIMENT_SCHEMA, EXPERIMENT_TASKS } from './config-schema.ts';
import { quote, validate } from './schema.ts';
import { decoderModel } from './settings.ts';

export { EXPERIMENT_TASKS };
export type ExperimentTask = (typeof EXPERIMENT_TASKS)[number];

/** What a run changes from the fine-tuning defaults. */
export interface Variant {
  method: Method;
  r?: number;
  layer?: number;
  positions?: 'continue' | 'reset';
  separator?: boolean;
  lastCopyOnly?: boolean;
  labelSubword?: 'first' | 'last';
  unmaskedLayers?: number[];
}

export interface RunGroup {
  /** Identifier (used in the log) and the title of its table. */
  name: string;
  title: string;
  tasks: ExperimentTask[];
  variants: Variant[];
  /** Seeds for this group (default: the experiment's). */
  seeds?: number[];
  /**
   * Brown training sentences of this group's runs, one set of runs per entry (default: `data.trainSentences`
   * only): a learning curve lists several. The synthetic task keeps its own budget.
   */
  trainSentences?: TrainSentences[];
}

/** A number of Brown sentences of a split, or the whole split. */
export type TrainSentences = number | 'all';

export type FinetuneDefaults = Partial<Omit<FinetuneOptions, 'seed' | 'method' | 'r' | 'layer'>>;
/** What the config may set of the pretraining options (`model.kind` is set per backbone). */
export type ExperimentPretrainOptions = Partial<Omit<PretrainOptions, 'model'>> & {
  model?: Partial<Omit<TransformerConfig, 'vocabSize' | 'kind'>>;
};

export interface ExperimentConfig {
  name: string;
  /** Fine-tuning seeds (the default of every group). */
  seeds: number[];
  /** Backbones pretrained by the runner (exactly one of `pretrain` and `backbones` is given). */
  pretrain?: {
    /** Shared by both backbones (the encoder changes only `model.kind`). */
    options: ExperimentPretrainOptions;
    /** Pretrain a masked-LM encoder of the same size on the same text and budget (needed by `encoder` runs). */
    encoder: boolean;
  };
  /**
   * Backbones pretrained beforehand (e.g. the shipped ones in `backbones/`): checkpoint directories, relative to
   * the config file. `encoder` is needed by `encoder` runs.
   */
  backbones?: { decoder: string; encoder?: string };
  data: {
    /** Sentences of each Brown split used (evenly spaced through the split, so every genre is in). */
    trainSentences: TrainSentences;
    devSentences: TrainSentences;
    testSentences: TrainSentences;
    synthetic: {
      train: number;
      dev: number;
      test: number;
      classes: number;
      minWords: number;
      maxWords: number;
    };
  };
  /** Defaults of every run (a variant's fields override them; `method` and `seed` come from each run). */
  finetune: FinetuneDefaults;
  groups: RunGroup[];
}

export interface RunSpec {
  /** Stable, readable and unique: task/variant/seed. */
  id: string;
  task: ExperimentTask;
  variant: Variant;
  seed: number;
  /** Brown training sentences of the run (the synthetic task has its own budget). */
  trainSentences: TrainSentences;
  /** The groups this run belongs to. */
  groups: string[];
}

/** A short, stable name for a variant: only what differs from the defaults appears. */
export function variantKey(v: Variant): string {
  const parts: string[] = [v.method];
  if (v.method === 'sr') parts.push(`r${v.r ?? 1}`);
  if (v.method === 'unmask-layers') parts.push(`layers${(v.unmaskedLayers ?? []).join('.')}`);
  if (v.layer !== undefined) parts.push(`l${v.layer}`);
  if (v.positions !== undefined) parts.push(`pos-${v.positions}`);
  if (v.separator) parts.push('sep');
  if (v.lastCopyOnly === false) parts.push('full-last-layer');
  if (v.labelSubword === 'last') parts.push('last-subword');
  return parts.join('-');
}

/** A label for tables: "SR r=2", "SR r=1 ℓ=2/4", plus the ablation settings. */
export function variantLabel(v: Variant, layers: number): string {
  const base = methodLabel({ method: v.method, r: v.r ?? 1, layer: v.layer ?? null }, layers);
  const extras = [
    v.positions !== undefined ? `positions ${v.positions}` : '',
    v.separator ? 'separator' : '',
    v.lastCopyOnly === false ? 'full last layer' : '',
    v.labelSubword === 'last' ? 'last subword' : '',
  ].filter(Boolean);
  return extras.length ? `${base} (${extras.join(', ')})` : base;
}

/** The training budgets of a group's Brown runs. */
export const groupBudgets = (config: ExperimentConfig, group: RunGroup): TrainSentences[] =>
  group.trainSentences ?? [config.data.trainSentences];

/** task/variant/seed, with the training budget in between when it is not the config's default. */
export function runId(
  config: ExperimentConfig,
  task: ExperimentTask,
  variant: Variant,
  seed: number,
  trainSentences: TrainSentences = config.data.trainSentences,
): string {
  const budget = trainSentences === config.data.trainSentences ? '' : `train-${trainSentences}/`;
  return `${task}/${budget}${variantKey(variant)}/seed${seed}`;
}

/**
 * The runs of every group, each once (a run shared by two groups is run once), ordered seed by seed: the
 * first seed of every run comes first, so a grid cut short still covers every cell once.
 */
export function expandRuns(config: ExperimentConfig): RunSpec[] {
  const runs = new Map<string, RunSpec>();
  for (const group of config.groups) {
    for (const task of group.tasks) {
      const budgets = task === 'synthetic' ? [config.data.trainSentences] : groupBudgets(config, group);
      for (const trainSentences of budgets) {
        for (const variant of group.variants) {
          for (const seed of group.seeds ?? config.seeds) {
            const id = runId(config, task, variant, seed, trainSentences);
            const existing = runs.get(id);
            if (existing) existing.groups.push(group.name);
            else runs.set(id, { id, task, variant, seed, trainSentences, groups: [group.name] });
          }
        }
      }
    }
  }
  const seedRank = (run: RunSpec) => {
    const group = config.groups.find((g) => g.name === run.groups[0])!;
    return (group.seeds ?? config.seeds).indexOf(run.seed);
  };
  return [...runs.values()]
    .map((run, order) => ({ run, order, rank: seedRank(run) }))
    .sort((a, b) => a.rank - b.rank || a.order - b.order)
    .map((x) => x.run);
}

/**
 * Reads and validates an experiment file; every problem names the file and the field. Backbone directories
 * are resolved against the file's directory.
 */
export function loadExperimentConfig(path: string): ExperimentConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: not a readable JSON file (${(e as Error).message})`);
  }
  return validateExperimentConfig(raw, path, dirname(path));
}

/**
 * Checks the shape of every field (one declaration each, in `config-schema.ts`), then the relations between
 * them. Relative `backbones` directories are resolved against `baseDir` (the returned config holds absolute
 * paths) and their model configs are read, so that layer numbers can be checked against them.
 */
export function validateExperimentConfig(raw: unknown, source: string, baseDir = '.'): ExperimentConfig {
  validate(EXPERIMENT_SCHEMA, raw, source);
  const c = raw as ExperimentConfig;
  const fail = (path: string, message: string): never => {
    throw new Error(`${source}: ${path} ${message}`);
  };
  if ((c.pretrain === undefined) === (c.backbones === undefined))
    fail(
      'pretrain',
      `and backbones: exactly one must be given (pretrain: options to pretrain backbones here; backbones: directories of pretrained ones), found ${c.pretrain ? 'both' : 'neither'}`,
    );
  if (c.backbones) {
    const resolved = Object.fromEntries(
      Object.entries(c.backbones).map(([kind, dir]) => [kind, resolve(baseDir, dir)]),
    );
    c.backbones = resolved as ExperimentConfig['backbones'];
  }
  let model: Omit<TransformerConfig, 'vocabSize'>;
  try {
    model = decoderModel(c);
  } catch (e) {
    const message = (e as Error).message;
    return c.pretrain
      ? fail('pretrain.options.model', `is not a valid model: ${message}`)
      : fail('backbones.decoder', `is not a usable backbone: ${message}`);
  }
  const syn = c.data.synthetic;
  if (syn.minWords > syn.maxWords)
    fail(
      'data.synthetic.minWords',
      `(${syn.minWords}) must not exceed data.synthetic.maxWords (${syn.maxWords})`,
    );
  const names = new Set<string>();
  const checkMethodFields = (o: Partial<MethodOptions>, path: string) => {
    if (typeof o.layer === 'number' && o.layer > model.layers)
      fail(`${path}.layer`, `must be at most the backbone's ${model.layers} layers, found ${o.layer}`);
    for (const [k, l] of (o.unmaskedLayers ?? []).entries())
      if (l >= model.layers)
        fail(`${path}.unmaskedLayers[${k}]`, `must be a 0-based layer below ${model.layers}, found ${l}`);
  };
  checkMethodFields(c.finetune, 'finetune');
  for (const [i, group] of c.groups.entries()) {
    if (names.has(group.name)) fail(`groups[${i}].name`, `must be unique, found ${quote(group.name)} twice`);
    names.add(group.name);
    for (const [j, v] of group.variants.entries()) {
      const path = `groups[${i}].variants[${j}]`;
      if (v.method === 'encoder' && !(c.pretrain?.encoder || c.backbones?.encoder))
        fail(
          path,
          c.pretrain
            ? 'is an encoder run, but pretrain.encoder is false (no encoder is pretrained)'
            : 'is an encoder run, but backbones.encoder is not given',
        );
      if (v.method === 'unmask-layers' && !(v.unmaskedLayers ?? c.finetune.unmaskedLayers)?.length)
        fail(
          `${path}.unmaskedLayers`,
          'must list the unmasked layers of an unmask-layers run, found nothing',
        );
      checkMethodFields(v, path);
    }
  }
  return c;
}
