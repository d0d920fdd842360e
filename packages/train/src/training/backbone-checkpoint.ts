/**
 * @file Saving and loading a pretrained backbone: weights (safetensors), its config, the tokenizer, and, for
 * resuming, the optimizer and trainer state. A checkpoint that does not match what the caller expects is
 * refused before anything is built from it.
 */
import type { Device } from '@reprise/core';
import { Transformer, type TransformerConfig, paramShapes } from '@reprise/model';
import { type Checkpoint, canonicalJson, loadCheckpoint, saveCheckpoint } from '../io/index.ts';
import { BpeTokenizer } from '../tokenizer/index.ts';
import { type BackboneConfigFile, backboneConfigSchema } from './checkpoint-schemas.ts';
import { fromHost, toHost } from './weights.ts';

/** config.json of a backbone; `training` holds the options the run was started with (for resume checks). */
export type { BackboneConfigFile };

export async function saveBackbone(
  dir: string,
  model: Transformer,
  tokenizer: BpeTokenizer,
  config: BackboneConfigFile,
  extra: Pick<Checkpoint, 'optimizer' | 'trainer'> = {},
): Promise<void> {
  saveCheckpoint(dir, {
    weights: await toHost(model.params),
    config,
    tokenizerJson: tokenizer.toJSON(),
    ...extra,
  });
}

export interface LoadedBackbone {
  model: Transformer;
  tokenizer: BpeTokenizer;
  config: BackboneConfigFile;
  checkpoint: Checkpoint<BackboneConfigFile>;
}

export function loadBackbone(dir: string, device: Device, expectModel?: TransformerConfig): LoadedBackbone {
  let model: TransformerConfig | undefined;
  const checkpoint = loadCheckpoint<BackboneConfigFile>(dir, {
    configSchema: backboneConfigSchema,
    expect: {
      dtype: 'F32',
      config: (cfg) => {
        if (expectModel && canonicalJson(cfg.model) !== canonicalJson(expectModel))
          return `its model config ${JSON.stringify(cfg.model)} differs from this run's ${JSON.stringify(expectModel)}`;
        model = cfg.model;
        return null;
      },
      get shapes() {
        return model ? paramShapes(model) : undefined;
      },
    },
  });
  if (!checkpoint.tokenizerJson) throw new Error(`checkpoint ${dir}: tokenizer.json is missing`);
  const tokenizer = BpeTokenizer.fromJSON(checkpoint.tokenizerJson, `${dir}/tokenizer.json`);
  const config = checkpoint.config;
  if (tokenizer.vocabSize !== config.model.vocabSize)
    throw new Error(
      `checkpoint ${dir}: the tokenizer has ${tokenizer.vocabSize} tokens but the model ${config.model.vocabSize}`,
    );
  const transformer = new Transformer(device, config.model, fromHost(device, checkpoint.weights));
  return { model: transformer, tokenizer, config, checkpoint };
}
