/**
 * @file Saving and loading a fine-tuned labeler: backbone and head weights, the backbone config, the labeler
 * settings, the label set and the tokenizer, so that `eval` and `predict` rebuild exactly the trained model.
 */
import type { Device } from '@reprise/core';
import { SequenceLabeler, Transformer, paramShapes } from '@reprise/model';
import { type Checkpoint, loadCheckpoint, saveCheckpoint } from '../io/index.ts';
import { BpeTokenizer } from '../tokenizer/index.ts';
import { type LabelerConfigFile, labelerConfigSchema } from './checkpoint-schemas.ts';
import { fromHost, toHost } from './weights.ts';

/** config.json of a labeler; `training` holds the task and options the run was started with. */
export type { LabelerConfigFile };

export async function saveLabeler(
  dir: string,
  labeler: SequenceLabeler,
  tokenizer: BpeTokenizer,
  config: LabelerConfigFile,
  extra: Pick<Checkpoint, 'optimizer' | 'trainer'> = {},
): Promise<void> {
  saveCheckpoint(dir, {
    weights: await toHost({ ...labeler.backbone.params, ...labeler.head }),
    config,
    tokenizerJson: tokenizer.toJSON(),
    ...extra,
  });
}

export interface LoadedLabeler {
  labeler: SequenceLabeler;
  tokenizer: BpeTokenizer;
  config: LabelerConfigFile;
  checkpoint: Checkpoint<LabelerConfigFile>;
}

export function loadLabeler(dir: string, device: Device): LoadedLabeler {
  let shapes: Record<string, number[]> | undefined;
  const checkpoint = loadCheckpoint<LabelerConfigFile>(dir, {
    configSchema: labelerConfigSchema,
    expect: {
      dtype: 'F32',
      config: (cfg) => {
        const d = cfg.model.dModel;
        shapes = {
          ...paramShapes(cfg.model),
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
  const tokenizer = BpeTokenizer.fromJSON(checkpoint.tokenizerJson, `${dir}/tokenizer.json`);
  const config = checkpoint.config;
  const { 'head.weight': headW, 'head.bias': headB, ...weights } = checkpoint.weights;
  const head = fromHost(device, { 'head.weight': headW!, 'head.bias': headB! });
  const backbone = new Transformer(device, config.model, fromHost(device, weights));
  const labeler = new SequenceLabeler(backbone, { ...config.labeler, numLabels: config.labels.length }, head);
  return { labeler, tokenizer, config, checkpoint };
}
