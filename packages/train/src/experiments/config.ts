/**
 * @file An experiment grid as a JSON file: the shared pretraining of a decoder (causal LM) and an encoder
 * (masked LM), the data budget, fine-tuning defaults, and groups of runs (tasks × variants × seeds). Loading
 * validates every field with the file and the field's path in the message; `expandRuns` turns the groups into
 * the list of runs, each with a stable id (a run shared by two groups is run once).
 */
import { readFileSync } from 'node:fs';
import type { FinetuneOptions } from '../training/finetune.ts';
import { METHODS, type Method, methodLabel } from '../training/methods.ts';
import type { PretrainOptions } from '../training/pretrain.ts';

export const EXPERIMENT_TASKS = ['pos-universal', 'pos-brown', 'names', 'synthetic'] as const;
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
}

export interface ExperimentConfig {
  name: string;
  /** Fine-tuning seeds (the default of every group). */
  seeds: number[];
  pretrain: {
    /** Shared by both backbones (the encoder changes only `model.kind`). */
    options: Partial<PretrainOptions>;
    /** Pretrain a masked-LM encoder of the same size on the same text and budget (needed by `encoder` runs). */
    encoder: boolean;
  };
  data: {
    /** Sentences of each Brown split used (evenly spaced through the split, so every genre is in). */
    trainSentences: number;
    devSentences: number;
    testSentences: number;
    synthetic: {
      train: number;
      dev: number;
      test: number;
      classes: number;
      minWords: number;
      maxWords: number;
    };
  };
  finetune: Partial<Omit<FinetuneOptions, 'seed'>>;
  groups: RunGroup[];
}

export interface RunSpec {
  /** Stable, readable and unique: task/variant/seed. */
  id: string;
  task: ExperimentTask;
  variant: Variant;
  seed: number;
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

export function expandRuns(config: ExperimentConfig): RunSpec[] {
  const runs = new Map<string, RunSpec>();
  for (const group of config.groups) {
    for (const task of group.tasks) {
      for (const variant of group.variants) {
        for (const seed of group.seeds ?? config.seeds) {
          const id = `${task}/${variantKey(variant)}/seed${seed}`;
          const existing = runs.get(id);
          if (existing) existing.groups.push(group.name);
          else runs.set(id, { id, task, variant, seed, groups: [group.name] });
        }
      }
    }
  }
  return [...runs.values()];
}

/** Reads and validates an experiment file; every problem names the file and the field. */
export function loadExperimentConfig(path: string): ExperimentConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: not a readable JSON file (${(e as Error).message})`);
  }
  return validateExperimentConfig(raw, path);
}

export function validateExperimentConfig(raw: unknown, source: string): ExperimentConfig {
  const fail = (field: string, expected: string, found: unknown): never => {
    throw new Error(`${source}: ${field} must be ${expected}, found ${JSON.stringify(found)}`);
  };
  const obj = (v: unknown, field: string) =>
    typeof v === 'object' && v !== null && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : fail(field, 'an object', v);
  const count = (v: unknown, field: string) =>
    Number.isInteger(v) && (v as number) >= 1 ? (v as number) : fail(field, 'a positive integer', v);
  const seeds = (v: unknown, field: string) =>
    Array.isArray(v) && v.length > 0 && v.every((s) => Number.isInteger(s) && s >= 0)
      ? (v as number[])
      : fail(field, 'a non-empty list of non-negative integers', v);
  const c = obj(raw, 'the file');
  if (typeof c.name !== 'string' || !/^[\w.-]+$/.test(c.name))
    fail('name', 'a word (letters, digits, . _ -)', c.name);
  seeds(c.seeds, 'seeds');
  const pre = obj(c.pretrain, 'pretrain');
  obj(pre.options, 'pretrain.options');
  if (typeof pre.encoder !== 'boolean') fail('pretrain.encoder', 'true or false', pre.encoder);
  const data = obj(c.data, 'data');
  for (const k of ['trainSentences', 'devSentences', 'testSentences']) count(data[k], `data.${k}`);
  const syn = obj(data.synthetic, 'data.synthetic');
  for (const k of ['train', 'dev', 'test', 'classes', 'minWords', 'maxWords'])
    count(syn[k], `data.synthetic.${k}`);
  obj(c.finetune, 'finetune');
  if (!Array.isArray(c.groups) || c.groups.length === 0) fail('groups', 'a non-empty list', c.groups);
  const names = new Set<string>();
  (c.groups as unknown[]).forEach((g, i) => {
    const group = obj(g, `groups[${i}]`);
    const at = `groups[${i}] (${String(group.name)})`;
    if (typeof group.name !== 'string' || names.has(group.name))
      fail(`groups[${i}].name`, 'a unique string', group.name);
    names.add(group.name as string);
    if (typeof group.title !== 'string') fail(`${at}.title`, 'a string', group.title);
    const tasks = group.tasks;
    if (!Array.isArray(tasks) || tasks.length === 0 || !tasks.every((t) => EXPERIMENT_TASKS.includes(t)))
      fail(`${at}.tasks`, `a non-empty list of ${EXPERIMENT_TASKS.join(', ')}`, tasks);
    if (group.seeds !== undefined) seeds(group.seeds, `${at}.seeds`);
    if (!Array.isArray(group.variants) || group.variants.length === 0)
      fail(`${at}.variants`, 'a non-empty list', group.variants);
    (group.variants as unknown[]).forEach((v, j) => {
      const variant = obj(v, `${at}.variants[${j}]`);
      if (!METHODS.includes(variant.method as Method))
        fail(`${at}.variants[${j}].method`, `one of ${METHODS.join(', ')}`, variant.method);
      if (variant.method === 'encoder' && !pre.encoder)
        fail(`${at}.variants[${j}]`, 'not an encoder run while pretrain.encoder is false', variant);
      if (variant.r !== undefined) count(variant.r, `${at}.variants[${j}].r`);
      if (variant.layer !== undefined) count(variant.layer, `${at}.variants[${j}].layer`);
    });
  });
  return raw as ExperimentConfig;
}
