/**
 * @file What a LoRA fine-tuning saves and needs: the checkpoint holds the adapters and the head, not the frozen
 * base; its config.json's `lora` names the base (its directory, absolute) with a SHA-256 of the base's weight
 * files, so that loading finds the base and refuses another one. The base is one of the project's backbones or a
 * Hugging Face model directory.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Device } from '@reprise/core';
import {
  LoraAdapters,
  type LoraConfig,
  type Transformer,
  type TransformerConfig,
  attachLora,
  loraShapes,
} from '@reprise/model';
import { isHfModelDir, readHfWeightHeaders } from '../hf/index.ts';
import { CHECKPOINT_FILES, type HostTensor, canonicalJson, resolveAtomicDir } from '../io/index.ts';
import type { LabelerConfigFile } from './checkpoint-schemas.ts';
import { loadFinetuneBackbone } from './finetune-backbone.ts';
import { fromHost } from './weights.ts';

/** config.json's `lora` of a LoRA labeler. */
export interface LoraRecord extends LoraConfig {
  base: {
    /** The base's directory, absolute. */
    dir: string;
    /** SHA-256 (hex) of the base's weight files, in order (see `baseFingerprint`). */
    sha256: string;
  };
}

/** The files a base's weights are read from: a project checkpoint's model.safetensors, or an HF model's files. */
function weightFiles(dir: string): string[] {
  if (isHfModelDir(dir)) return readHfWeightHeaders(dir).files.map((f) => f.path);
  const root = resolveAtomicDir(dir);
  if (root === null) throw new Error(`LoRA base ${resolve(dir)} does not exist`);
  return [join(root, CHECKPOINT_FILES.weights)];
}

/** SHA-256 over the base's weight files (streamed: a large model's files are never read whole into memory). */
export function baseFingerprint(dir: string): string {
  const hash = createHash('sha256');
  const chunk = Buffer.alloc(4 * 2 ** 20);
  for (const path of weightFiles(dir)) {
    const fd = openSync(path, 'r');
    try {
      for (let n = readSync(fd, chunk); n > 0; n = readSync(fd, chunk)) hash.update(chunk.subarray(0, n));
    } finally {
      closeSync(fd);
    }
  }
  return hash.digest('hex');
}

/** The record a LoRA run writes into its checkpoints' config. */
export function loraRecord(lora: LoraConfig, baseDir: string): LoraRecord {
  return { ...lora, base: { dir: resolve(baseDir), sha256: baseFingerprint(baseDir) } };
}

/** The adapter tensors a LoRA labeler's checkpoint must hold (with the head's). */
export const loraCheckpointShapes = (config: LabelerConfigFile & { lora: LoraRecord }) =>
  loraShapes(config.model, config.lora);

/**
 * The base named by a LoRA labeler's config (or `baseDir`, where it has moved), checked against the fingerprint
 * and the config's model, with the saved adapters attached.
 */
export function loraBackbone(
  checkpointDir: string,
  config: LabelerConfigFile & { lora: LoraRecord },
  adapters: Record<string, HostTensor>,
  device: Device,
  baseDir?: string,
): Transformer {
  const { base, ...lora } = config.lora;
  const dir = baseDir ?? base.dir;
  const where = `the LoRA labeler ${checkpointDir} was fine-tuned from ${base.dir}`;
  let sha: string;
  try {
    sha = baseFingerprint(dir);
  } catch (e) {
    throw new Error(`${where}, which cannot be read: ${(e as Error).message}`);
  }
  if (sha !== base.sha256)
    throw new Error(
      `${where} (weights SHA-256 ${base.sha256}), but ${resolve(dir)} holds other weights (SHA-256 ${sha})`,
    );
  const { model } = loadFinetuneBackbone(dir, device);
  // The dropout of a frozen base only matters while training, which restores its own model.
  const fields = ({ dropout: _, ...c }: TransformerConfig) => canonicalJson(c);
  if (fields(config.model) !== fields(model.config)) {
    model.dispose();
    throw new Error(
      `${where}; its model config ${JSON.stringify(config.model)} differs from the base's ${JSON.stringify(model.config)}`,
    );
  }
  attachLora(model, new LoraAdapters(model.config, lora, fromHost(device, adapters)));
  return model;
}
