/**
 * @file Saving and loading a fine-tuned labeler: backbone and head weights, the backbone config, the labeler
 * settings, the label set and the tokenizer, so that `eval` and `predict` rebuild exactly the trained model. A
 * LoRA labeler saves its adapters and head instead of the backbone, and its config names the base it needs
 * (lora-checkpoint.ts); merged, it becomes a plain labeler.
 */
import type { Device } from '@reprise/core';
import { SequenceLabeler, Transformer, mergeLora, paramShapes } from '@reprise/model';
import { type Checkpoint, loadCheckpoint, saveCheckpoint } from '../io/index.ts';
import {
  type BpeTokenizer,
  type HfTokenizer,
  type WordTokenizer,
  tokenizerFromJson,
} from '../tokenizer/index.ts';
import { type LabelerConfigFile, labelerConfigSchema } from './checkpoint-schemas.ts';
import { loraBackbone, loraCheckpointShapes } from './lora-checkpoint.ts';
import { fromHost, toHost } from './weights.ts';

/** config.json of a labeler; `training` holds the task and options the run was started with. */
export type { LabelerConfigFile };

export async function saveLabeler(
  dir: string,
  labeler: SequenceLabeler,
  tokenizer: WordTokenizer & { toJSON(): string },
  config: LabelerConfigFile,
  extra: Pick<Checkpoint, 'optimizer' | 'trainer'> = {},
): Promise<void> {
  // A LoRA labeler saves its adapters, not the frozen base (config.lora names the base).
  const { lora } = labeler.backbone;
  if (Boolean(lora) !== Boolean(config.lora))
    throw new Error(
      `saveLabeler: the labeler ${lora ? 'has' : 'has no'} LoRA adapters but its config ${config.lora ? 'has' : 'has no'} lora record`,
    );
  saveCheckpoint(dir, {
    weights: await toHost({ ...(lora ? lora.params : labeler.backbone.params), ...labeler.head }),
    config,
    tokenizerJson: tokenizer.toJSON(),
    ...extra,
  });
}

/**
 * Folds a LoRA labeler's adapters into its backbone (`mergeLora`: the labeler becomes a plain one) and saves it
 * as a plain labeler checkpoint, which loads without the base.
 */
export async function saveMergedLabeler(
  dir: string,
  labeler: SequenceLabeler,
  tokenizer: WordTokenizer & { toJSON(): string },
  config: LabelerConfigFile,
): Promise<void> {
  mergeLora(labeler.backbone);
  const { lora: _, ...plain } = config;
  await saveLabeler(dir, labeler, tokenizer, plain);
}

export interface LoadedLabeler {
  labeler: SequenceLabeler;
  /** The project's own, or a foreign one for a labeler fine-tuned from a Hugging Face model. */
  tokenizer: BpeTokenizer | HfTokenizer;
  config: LabelerConfigFile;
  checkpoint: Checkpoint<LabelerConfigFile>;
}

/**
 * Loads a labeler for eval, predict or resume. A LoRA labeler's base is loaded from the directory its config
 * names (or `opts.baseDir`, where the base has moved) and must have the weights it was fine-tuned from.
 */
export function loadLabeler(dir: string, device: Device, opts: { baseDir?: string } = {}): LoadedLabeler {
  let shapes: Record<string, number[]> | undefined;
  const checkpoint = loadCheckpoint<LabelerConfigFile>(dir, {
    configSchema: labelerConfigSchema,
    expect: {
      dtype: 'F32',
      config: (cfg) => {
        const d = cfg.model.dModel;
        shapes = {
          ...(cfg.lora ? loraCheckpointShapes({ ...cfg, lora: cfg.lora }) : paramShapes(cfg.model)),
          'head.weight': [d, cfg.labels.length],
          'head.bias': [cfg.labels.length],
        };
        return null;
      },
      get shapes() {
        return shapes;
      },
    },
  });
  if (!checkpoint.tokenizerJson) throw new Error(`checkpoint ${dir}: tokenizer.json is missing`);
  const tokenizer = tokenizerFromJson(checkpoint.tokenizerJson, `${dir}/tokenizer.json`);
  const config = checkpoint.config;
  const { 'head.weight': headW, 'head.bias': headB, ...weights } = checkpoint.weights;
  const head = fromHost(device, { 'head.weight': headW!, 'head.bias': headB! });
  const backbone = config.lora
    ? loraBackbone(dir, { ...config, lora: config.lora }, weights, device, opts.baseDir)
    : new Transformer(device, config.model, fromHost(device, weights));
  const labeler = new SequenceLabeler(backbone, { ...config.labeler, numLabels: config.labels.length }, head);
  return { labeler, tokenizer, config, checkpoint };
}
