/**
 * @file An experiment grid as a JSON file: the shared pretraining of a decoder (causal LM) and an encoder
 * (masked LM), the data budget, fine-tuning defaults, and groups of runs (tasks × variants × seeds). Loading
 * validates the file against its zod schema (`config-schema.ts`, where its types come from: unknown keys refused
 * with the closest valid key, relations between fields), then the layer numbers against the backbone, with the
 * file and the field's JSON path in every message; `expandRuns` turns the groups into the list of runs, each
 * with a stable id (a run shared by two groups is run once).
 */
import { basename, dirname, resolve } from 'node:path';
import type { TransformerConfig } from '@reprise/model';
import { InvalidFileError, jsonPath, parseWith, readJsonFile } from '../io/validate.ts';
import { type MethodOptions, methodLabel } from '../training/methods.ts';
import {
  EXPERIMENT_TASKS,
  type ExperimentConfig,
  type ExperimentTask,
  type RunGroup,
  type TrainSentences,
  type Variant,
  experimentConfigSchema,
} from './config-schema.ts';
import { backboneSettings, decoderModel, givenBackboneSettings } from './settings.ts';

export { EXPERIMENT_TASKS };
export type {
  ExperimentConfig,
  ExperimentPretrainOptions,
  ExperimentTask,
  FinetuneDefaults,
  RunGroup,
  TrainSentences,
  Variant,
} from './config-schema.ts';

/** An experiment config nests ~6 levels deep and takes a few kilobytes; these bounds leave ample room. */
const EXPERIMENT_JSON_DEPTH = 16;
const EXPERIMENT_MAX_BYTES = 16 * 2 ** 20;

export interface RunSpec {
  /** Stable, readable and unique: task/variant/seed. */
  id: string;
  task: ExperimentTask;
  variant: Variant;
  seed: number;
  /** Brown training sentences of the run (the synthetic task has its own budget). */
  trainSentences: TrainSentences;
  /** The decoder of the run's group when it has its own (a directory), else the config's. */
  decoder?: string;
  /** The group's own epoch cap when it has one, else the config's (`finetune.epochs`). */
  epochs?: number;
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

/**
 * task/variant/seed, with the training budget in between when it is not the config's default, the group's
 * own decoder (its directory's name) and its own epoch cap when it has them.
 */
export function runId(
  config: ExperimentConfig,
  task: ExperimentTask,
  variant: Variant,
  seed: number,
  trainSentences: TrainSentences = config.data.trainSentences,
  decoder?: string,
  epochs?: number,
): string {
  const budget = trainSentences === config.data.trainSentences ? '' : `train-${trainSentences}/`;
  const backbone = decoder === undefined ? '' : `${basename(decoder)}/`;
  const cap = epochs === undefined ? '' : `epochs-${epochs}/`;
  return `${task}/${backbone}${budget}${cap}${variantKey(variant)}/seed${seed}`;
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
            const { decoder, epochs } = group;
            const id = runId(config, task, variant, seed, trainSentences, decoder, epochs);
            const existing = runs.get(id);
            if (existing) existing.groups.push(group.name);
            else
              runs.set(id, {
                id,
                task,
                variant,
                seed,
                trainSentences,
                ...(decoder === undefined ? {} : { decoder }),
                ...(epochs === undefined ? {} : { epochs }),
                groups: [group.name],
              });
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
 * Reads and validates an experiment file (strict UTF-8, nesting and size bounded before parsing); every
 * problem names the file and the field. Backbone directories are resolved against the file's directory.
 */
export function loadExperimentConfig(path: string): ExperimentConfig {
  const raw = readJsonFile(path, {
    what: 'experiment config',
    maxDepth: EXPERIMENT_JSON_DEPTH,
    maxBytes: EXPERIMENT_MAX_BYTES,
  });
  return validateExperimentConfig(raw, path, dirname(path));
}

/**
 * Checks the shape of every field and the relations that need no file (`experimentConfigSchema`), then those
 * that need the backbone's model. Relative `backbones` directories are resolved against `baseDir` (the returned
 * config holds absolute paths; `raw` is left as it is) and read: the decoder's model config, so that layer
 * numbers can be checked against it, and the encoder's, so that a wrong directory is refused at once.
 */
export function validateExperimentConfig(raw: unknown, source: string, baseDir = '.'): ExperimentConfig {
  const c = parseWith(experimentConfigSchema, raw, source);
  const fail = (path: PropertyKey[], message: string): never => {
    throw new InvalidFileError(source, `${source}: ${jsonPath(path)}: ${message}`);
  };
  if (c.backbones) {
    const { decoder, encoder } = c.backbones;
    c.backbones = { decoder: resolve(baseDir, decoder) };
    if (encoder !== undefined) c.backbones.encoder = resolve(baseDir, encoder);
  }
  for (const group of c.groups) if (group.decoder) group.decoder = resolve(baseDir, group.decoder);
  let model: Omit<TransformerConfig, 'vocabSize'>;
  try {
    model = decoderModel(c);
  } catch (e) {
    const message = (e as Error).message;
    return c.pretrain
      ? fail(['pretrain', 'options', 'model'], `not a valid model: ${message}`)
      : fail(['backbones', 'decoder'], `not a usable backbone: ${message}`);
  }
  // A given encoder is read now too: a wrong directory is refused before any run, not when its runs come up.
  if (c.backbones?.encoder !== undefined)
    try {
      backboneSettings(c, 'encoder');
    } catch (e) {
      fail(['backbones', 'encoder'], `not a usable backbone: ${(e as Error).message}`);
    }
  const checkLayers = (o: Partial<MethodOptions>, path: PropertyKey[], layers = model.layers) => {
    if (typeof o.layer === 'number' && o.layer > layers)
      fail([...path, 'layer'], `must be at most the backbone's ${layers} layers, found ${o.layer}`);
    for (const [k, l] of (o.unmaskedLayers ?? []).entries())
      if (l >= layers)
        fail([...path, 'unmaskedLayers', k], `must be a 0-based layer below ${layers}, found ${l}`);
  };
  checkLayers(c.finetune, ['finetune']);
  for (const [i, group] of c.groups.entries()) {
    let layers = model.layers;
    if (group.decoder)
      try {
        layers = givenBackboneSettings(group.decoder, 'decoder').model.layers;
      } catch (e) {
        fail(['groups', i, 'decoder'], `not a usable backbone: ${(e as Error).message}`);
      }
    for (const [j, v] of group.variants.entries()) checkLayers(v, ['groups', i, 'variants', j], layers);
  }
  return c;
}
