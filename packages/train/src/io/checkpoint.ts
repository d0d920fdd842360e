/**
 * @file Checkpoints: save and load a directory holding the weights, the config, and optionally the
 * tokenizer, the optimizer state and the trainer state. Saving replaces the whole directory atomically;
 * loading validates every file and refuses, naming the file, anything that does not fit.
 */
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { z } from 'zod';
import { resolveAtomicDir, writeDirAtomic } from './atomic-dir.ts';
import { writeFileAtomic, writeJsonAtomic } from './atomic.ts';
import { readFileBytes } from './read-file.ts';
import { type HostDType, type HostTensor, decodeSafetensors, encodeSafetensors } from './safetensors.ts';
import { decodeUtf8Strict } from './text.ts';
import { parseWith, quote, readJsonFile } from './validate.ts';

export const CHECKPOINT_FORMAT = 'reprise-checkpoint';
export const OPTIMIZER_FORMAT = 'reprise-optimizer';
export const CHECKPOINT_VERSION = '1';

/** File names inside a checkpoint directory. */
export const CHECKPOINT_FILES = {
  weights: 'model.safetensors',
  config: 'config.json',
  tokenizer: 'tokenizer.json',
  optimizer: 'optimizer.safetensors',
  trainer: 'trainer.json',
} as const;

export interface Checkpoint<C = unknown, T = unknown> {
  /** Model parameters by name. */
  weights: Record<string, HostTensor>;
  /** Any JSON: the model config and the training arguments. */
  config: C;
  /** The tokenizer, already serialized to JSON by its owner. */
  tokenizerJson?: string;
  /** Optimizer moments and step, as tensors. */
  optimizer?: Record<string, HostTensor>;
  /** Any JSON: step, epoch, rng state, best score... */
  trainer?: T;
}

export interface LoadExpectations<C = unknown> {
  /** Returns a message saying how `cfg` differs from what the caller needs, or null when it fits. */
  config?: (cfg: C) => string | null;
  /** Exact expected weight names and shapes: missing, extra and reshaped tensors are all refused. */
  shapes?: Record<string, number[]>;
  /** The dtype every weight must have (a model's parameters are all F32). */
  dtype?: HostDType;
}

export interface LoadOptions<C = unknown> {
  /** config.json's schema: types, ranges, relations and unknown keys, refused with the JSON path. */
  configSchema?: z.ZodType<C>;
  expect?: LoadExpectations<C>;
}

/** Size bounds of the JSON files, far above what we write, so that a huge file is refused before it is read. */
const JSON_LIMITS = {
  [CHECKPOINT_FILES.config]: 16 * 2 ** 20,
  [CHECKPOINT_FILES.trainer]: 64 * 2 ** 20,
  [CHECKPOINT_FILES.tokenizer]: 256 * 2 ** 20,
} as const;

const fmtShape = (shape: readonly number[]) => `[${shape.join(', ')}]`;
// Enough of a list to see the pattern without burying the message.
const MAX_LISTED = 10;

/** Write `checkpoint` to the directory `dir`, replacing any checkpoint there, all or nothing. */
export function saveCheckpoint(dir: string, checkpoint: Checkpoint): void {
  const { weights, config, tokenizerJson, optimizer, trainer } = checkpoint;
  if (tokenizerJson !== undefined) {
    try {
      JSON.parse(tokenizerJson);
    } catch (e) {
      throw new Error(`saveCheckpoint ${dir}: tokenizerJson is not valid JSON (${(e as Error).message})`);
    }
  }
  const meta = (format: string) => ({ format, version: CHECKPOINT_VERSION });
  writeDirAtomic(
    dir,
    (tmp) => {
      const f = (name: string) => join(tmp, name);
      writeJsonAtomic(f(CHECKPOINT_FILES.config), config);
      if (tokenizerJson !== undefined) writeFileAtomic(f(CHECKPOINT_FILES.tokenizer), tokenizerJson);
      writeFileAtomic(f(CHECKPOINT_FILES.weights), encodeSafetensors(weights, meta(CHECKPOINT_FORMAT)));
      if (optimizer !== undefined) {
        writeFileAtomic(f(CHECKPOINT_FILES.optimizer), encodeSafetensors(optimizer, meta(OPTIMIZER_FORMAT)));
      }
      if (trainer !== undefined) writeJsonAtomic(f(CHECKPOINT_FILES.trainer), trainer);
    },
    {
      // Never wipe a directory that is not ours, e.g. a run directory passed by mistake.
      refuseReplacing: (d) =>
        existsSync(join(d, CHECKPOINT_FILES.weights)) ? null : `it has no ${CHECKPOINT_FILES.weights}`,
    },
  );
}

const readJson = (path: string, name: keyof typeof JSON_LIMITS): unknown =>
  readJsonFile(path, { what: 'checkpoint file', maxBytes: JSON_LIMITS[name] });

function readTensors(path: string, format: string): Record<string, HostTensor> {
  const { tensors, metadata } = decodeSafetensors(readFileBytes(path, { what: 'checkpoint file' }), path);
  if (metadata.format !== format) {
    throw new Error(
      `checkpoint file ${path}: __metadata__.format is ${quote(metadata.format)}, expected '${format}'`,
    );
  }
  if (metadata.version !== CHECKPOINT_VERSION) {
    throw new Error(
      `checkpoint file ${path}: unsupported version ${quote(metadata.version)} (this code reads '${CHECKPOINT_VERSION}')`,
    );
  }
  return tensors;
}

const tensorName = (name: string) => `'${name.length > 80 ? `${name.slice(0, 80)}…` : name}'`;

function shapeProblems(
  found: Record<string, HostTensor>,
  expected: Record<string, number[]>,
  dtype: HostDType | undefined,
): string[] {
  const problems: string[] = [];
  for (const [name, shape] of Object.entries(expected)) {
    const t = found[name];
    if (!Object.hasOwn(found, name)) problems.push(`missing tensor '${name}' (expected ${fmtShape(shape)})`);
    else if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      problems.push(`tensor '${name}': expected shape ${fmtShape(shape)}, found ${fmtShape(t.shape)}`);
    }
  }
  for (const [name, t] of Object.entries(found)) {
    if (!Object.hasOwn(expected, name))
      problems.push(`unexpected tensor ${tensorName(name)} ${fmtShape(t.shape)}`);
    else if (dtype && t.dtype !== dtype)
      problems.push(`tensor '${name}': expected dtype ${dtype}, found ${t.dtype}`);
  }
  return problems;
}

/**
 * Read and validate the checkpoint in `dir`. The config is checked (by `configSchema`, then `expect.config`)
 * before the weights are decoded, so a model-size mismatch is reported as such rather than as a wall of shape
 * errors, and an absurd size is refused before anything is allocated. `T` (trainer.json) is only parsed here,
 * with its nesting bounded: resume validates it (see training/resume-check.ts).
 */
export function loadCheckpoint<C = unknown, T = unknown>(
  dir: string,
  options: LoadOptions<C> = {},
): Checkpoint<C, T> {
  const root = resolveAtomicDir(dir);
  if (root === null) throw new Error(`checkpoint ${resolve(dir)} does not exist`);
  const file = (name: string, required: boolean): string | null => {
    const path = join(root, name);
    if (existsSync(path)) {
      if (statSync(path).isDirectory())
        throw new Error(`checkpoint file ${path} is a directory; expected a file here`);
      return path;
    }
    if (required) throw new Error(`checkpoint ${root} is missing ${name}`);
    return null;
  };
  const { expect = {}, configSchema } = options;

  const configPath = file(CHECKPOINT_FILES.config, true)!;
  const rawConfig = readJson(configPath, CHECKPOINT_FILES.config);
  const config = (
    configSchema ? parseWith(configSchema, rawConfig, configPath, { what: 'checkpoint file' }) : rawConfig
  ) as C;
  const mismatch = expect.config?.(config);
  if (mismatch) throw new Error(`checkpoint file ${configPath} does not match: ${mismatch}`);

  const weightsPath = file(CHECKPOINT_FILES.weights, true)!;
  const weights = readTensors(weightsPath, CHECKPOINT_FORMAT);
  if (expect.shapes || expect.dtype) {
    const problems = shapeProblems(
      weights,
      expect.shapes ?? Object.fromEntries(Object.entries(weights).map(([n, t]) => [n, t.shape])),
      expect.dtype,
    );
    if (problems.length > 0) {
      const more = problems.length > MAX_LISTED ? `; and ${problems.length - MAX_LISTED} more` : '';
      throw new Error(
        `checkpoint file ${weightsPath} does not fit the model: ${problems.slice(0, MAX_LISTED).join('; ')}${more}`,
      );
    }
  }

  const out: Checkpoint<C, T> = { weights, config };
  const tokenizerPath = file(CHECKPOINT_FILES.tokenizer, false);
  if (tokenizerPath) {
    const bytes = readFileBytes(tokenizerPath, {
      what: 'checkpoint file',
      maxBytes: JSON_LIMITS[CHECKPOINT_FILES.tokenizer],
    });
    out.tokenizerJson = decodeUtf8Strict(bytes, tokenizerPath);
  }
  const optimizerPath = file(CHECKPOINT_FILES.optimizer, false);
  if (optimizerPath) out.optimizer = readTensors(optimizerPath, OPTIMIZER_FORMAT);
  const trainerPath = file(CHECKPOINT_FILES.trainer, false);
  if (trainerPath) out.trainer = readJson(trainerPath, CHECKPOINT_FILES.trainer) as T;
  return out;
}
