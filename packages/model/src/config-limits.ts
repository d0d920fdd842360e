/**
 * @file What a model config may ask for, checked before anything is allocated: each size field has a cap, and
 * the bytes the config implies (parameters plus the rotary tables, all f32) must stay under `MODEL_BYTES_LIMIT`.
 * A config read from a file is only data: `layers: 65536` or `maxPositions: 2147483647` must be refused at
 * once, not after minutes of allocation. The caps are far above any model this project trains (the default is
 * 4 layers of width 128) and below where one tensor outgrows what a GPU buffer or a typed array can hold.
 */
import type { TransformerConfig } from './config.ts';
import { parameterCount } from './params.ts';

/** The largest value each size field may take. */
export const CONFIG_FIELD_LIMITS = {
  vocabSize: 1 << 20,
  dModel: 1 << 14,
  heads: 1 << 10,
  kvHeads: 1 << 10,
  layers: 1 << 10,
  dFF: 1 << 16,
  maxPositions: 1 << 20,
} as const satisfies Partial<Record<keyof TransformerConfig, number>>;

/** The most bytes a model's parameters and position tables may take: 2 GiB (512 M f32 values). */
export const MODEL_BYTES_LIMIT = 2 ** 31;

/**
 * f32 bytes the config implies when the model is built: parameters plus the rotary cos/sin tables (a second
 * pair at the keys' width under grouped-query attention).
 */
export function configBytes(cfg: TransformerConfig): number {
  const { maxPositions } = cfg;
  const tables = (width: number) => 2 * maxPositions * width;
  const kvHeads = cfg.kvHeads ?? cfg.heads;
  const keyTables = kvHeads === cfg.heads ? 0 : tables((kvHeads * cfg.dModel) / cfg.heads);
  const rotary = cfg.positions === 'rotary' ? tables(cfg.dModel) + keyTables : 0;
  return 4 * (parameterCount(cfg) + rotary);
}

const gib = (n: number) => `${(n / 2 ** 30).toFixed(2)} GiB`;

/** Null when the config's sizes are within the limits, else what is too large (sizes must be integers ≥ 1). */
export function configSizeProblem(cfg: TransformerConfig): string | null {
  for (const [key, max] of Object.entries(CONFIG_FIELD_LIMITS) as [
    keyof typeof CONFIG_FIELD_LIMITS,
    number,
  ][]) {
    const v = cfg[key];
    if (v !== undefined && v > max) return `config.${key} must be at most ${max}, got ${v}`;
  }
  const bytes = configBytes(cfg);
  if (bytes > MODEL_BYTES_LIMIT)
    return `the config implies ${gib(bytes)} of parameters and position tables; the limit is ${gib(MODEL_BYTES_LIMIT)}`;
  return null;
}
