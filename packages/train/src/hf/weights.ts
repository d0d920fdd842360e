/**
 * @file The weight files of a Hugging Face model directory: one `model.safetensors`, or shards listed by
 * `model.safetensors.index.json` (`weight_map`: tensor name → shard file). Headers are read and checked first
 * (every shard validated as a safetensors file; each name in exactly one shard, the one the index says), so
 * that a model's names and shapes can be checked against its config before any weight is read. Weights may be
 * F32, F16 or BF16; the half types are widened exactly to F32.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import {
  type HostTensor,
  type SafetensorsEntry,
  encodeSafetensors,
  readSafetensorsFile,
  readSafetensorsHeader,
} from '../io/safetensors.ts';
import { parseWith, readJsonFile } from '../io/validate.ts';

export const HF_WEIGHTS_FILE = 'model.safetensors';
export const HF_INDEX_FILE = 'model.safetensors.index.json';
/** What transformers requires in a safetensors file's metadata (it refuses anything but pt, tf, flax, mlx). */
export const HF_SAFETENSORS_METADATA = { format: 'pt' } as const;

/** One weight file and the tensors its header declares. */
export interface HfWeightFile {
  path: string;
  entries: SafetensorsEntry[];
}

/** A model directory's weight files, headers read and cross-checked. */
export interface HfWeightHeaders {
  files: HfWeightFile[];
  /** The index file, for a sharded checkpoint. */
  index?: string;
  /** Every tensor: name → shape, over all files. */
  listing: Record<string, number[]>;
}

const shardName = z
  .string()
  .regex(/^[^/\\]+\.safetensors$/, 'expected a .safetensors file name in the same directory (no path)');
const indexSchema = z.looseObject({
  metadata: z.looseObject({ total_size: z.number().nonnegative().optional() }).optional(),
  weight_map: z
    .record(z.string(), shardName)
    .refine((m) => Object.keys(m).length > 0, 'expected at least one tensor'),
});

/** The index's `weight_map`, validated: shard names are plain file names in the model directory. */
export function readShardIndex(indexPath: string): Record<string, string> {
  const raw = readJsonFile(indexPath, { what: 'safetensors index', maxBytes: 64 * 2 ** 20, maxDepth: 8 });
  return parseWith(indexSchema, raw, indexPath, { what: 'safetensors index' }).weight_map;
}

const listed = (names: string[], max = 5) =>
  `${names
    .slice(0, max)
    .map((n) => `'${n}'`)
    .join(', ')}${names.length > max ? ` and ${names.length - max} more` : ''}`;

/** Reads and cross-checks the headers of the weight files in `dir`, reading no tensor data. */
export function readHfWeightHeaders(dir: string): HfWeightHeaders {
  const single = join(dir, HF_WEIGHTS_FILE);
  // transformers looks for the single file first, then the index.
  if (existsSync(single)) {
    const entries = readSafetensorsHeader(single).entries;
    return { files: [{ path: single, entries }], listing: listingOf(entries) };
  }
  const index = join(dir, HF_INDEX_FILE);
  if (!existsSync(index))
    throw new Error(
      `Hugging Face model ${dir} has neither ${HF_WEIGHTS_FILE} nor ${HF_INDEX_FILE} (only safetensors weights are read)`,
    );
  const weightMap = readShardIndex(index);
  const byShard = new Map<string, string[]>();
  for (const [name, shard] of Object.entries(weightMap))
    byShard.set(shard, [...(byShard.get(shard) ?? []), name]);

  const files: HfWeightFile[] = [];
  for (const [shard, names] of byShard) {
    const path = join(dir, shard);
    if (!existsSync(path))
      throw new Error(`safetensors index ${index}: shard ${path} does not exist (it holds ${listed(names)})`);
    files.push({ path, entries: readSafetensorsHeader(path).entries });
  }
  // Names unique across shards first: a duplicate is the clearer message when it also disagrees with the index.
  const owner = new Map<string, string>();
  for (const { path, entries } of files) {
    for (const e of entries) {
      const first = owner.get(e.name);
      if (first !== undefined)
        throw new Error(`safetensors index ${index}: tensor '${e.name}' is in both ${first} and ${path}`);
      owner.set(e.name, path);
    }
  }
  for (const [i, [shard, names]] of [...byShard].entries()) {
    const { path, entries } = files[i];
    const here = new Set(entries.map((e) => e.name));
    const absent = names.filter((name) => !here.has(name));
    if (absent.length > 0)
      throw new Error(
        `safetensors index ${index}: shard ${path} lacks ${listed(absent)}, which the index puts there`,
      );
    for (const e of entries) {
      if (weightMap[e.name] === shard) continue;
      const said = Object.hasOwn(weightMap, e.name)
        ? `the index puts it in ${weightMap[e.name]}`
        : 'the index does not list it';
      throw new Error(`safetensors index ${index}: shard ${path} holds tensor '${e.name}' but ${said}`);
    }
  }
  return { files, index, listing: listingOf(files.flatMap((f) => f.entries)) };
}

function listingOf(entries: SafetensorsEntry[]): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const e of entries) out[e.name] = e.shape;
  return out;
}

/**
 * Reads the tensors named in `wanted` from the weight files (one file in memory at a time, plus the tensors
 * kept), as F32: the others are left unread. A wanted tensor of an integer or other dtype is refused.
 */
export function readHfWeights(
  headers: HfWeightHeaders,
  wanted: ReadonlySet<string>,
): Record<string, HostTensor> {
  const out: Record<string, HostTensor> = {};
  for (const f of headers.files) {
    if (!f.entries.some((e) => wanted.has(e.name))) continue;
    const { tensors } = readSafetensorsFile(f.path, {
      accept: ['F32', 'F16', 'BF16'],
      skip: (name) => !wanted.has(name),
    });
    Object.assign(out, tensors);
  }
  return out;
}

/** Safetensors bytes that transformers loads: `format: "pt"` metadata, the tensors under HF's names. */
export function encodeHfSafetensors(tensors: Record<string, HostTensor>): Buffer {
  return encodeSafetensors(tensors, { ...HF_SAFETENSORS_METADATA });
}
