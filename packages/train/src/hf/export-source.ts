/**
 * @file What `reprise export --model DIR` exports: a Hugging Face model directory (written back as its own
 * architecture), one of the project's backbones (`kind: "reprise-backbone"`) or a fine-tuned labeler
 * (`"reprise-labeler"`: a tagger, `…ForTokenClassification`; LoRA adapters merged into the weights).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Device } from '@reprise/core';
import { mergeLora } from '@reprise/model';
import { readJsonFile } from '../io/validate.ts';
import { loadBackbone } from '../training/backbone-checkpoint.ts';
import { loadLabeler } from '../training/labeler-checkpoint.ts';
import { toHost } from '../training/weights.ts';
import type { HfExportInput } from './export.ts';
import { HF_CONFIG_FILE, importHfModel, isHfModelDir } from './import.ts';

const KINDS = ['reprise-backbone', 'reprise-labeler'] as const;

/** The weights, config, tokenizer (and tagger) of the model at `dir`, read onto `device` and back to the host. */
export async function exportInputFrom(dir: string, device: Device): Promise<HfExportInput> {
  if (isHfModelDir(dir)) {
    const m = importHfModel(dir, device);
    const tokenizerConfig = join(dir, 'tokenizer_config.json');
    try {
      return {
        config: m.config,
        weights: await toHost({ ...m.model.params, ...(m.labeler?.head ?? {}) }),
        spec: m.spec,
        ...(m.labels ? { tagger: { labels: m.labels, settings: { r: 0 } } } : {}),
        tokenizer: m.tokenizer,
        ...(existsSync(tokenizerConfig)
          ? { tokenizerConfigJson: readFileSync(tokenizerConfig, 'utf8') }
          : {}),
        source: dir,
      };
    } finally {
      if (m.labeler) m.labeler.dispose();
      else m.model.dispose();
    }
  }
  const path = join(dir, HF_CONFIG_FILE);
  if (!existsSync(path))
    throw new Error(
      `${dir}: no ${HF_CONFIG_FILE}; expected a checkpoint of this project or a Hugging Face model`,
    );
  const kind = (readJsonFile(path, { maxBytes: 16 * 2 ** 20 }) as { kind?: unknown } | null)?.kind;
  if (kind === 'reprise-backbone') {
    const b = loadBackbone(dir, device);
    try {
      const weights = await toHost(b.model.params);
      return { config: b.config.model, weights, tokenizer: b.tokenizer, source: dir };
    } finally {
      b.model.dispose();
    }
  }
  if (kind === 'reprise-labeler') {
    const l = loadLabeler(dir, device);
    try {
      // A LoRA labeler exports as a plain model: the adapters folded into the weights they adapt.
      if (l.labeler.backbone.lora) mergeLora(l.labeler.backbone);
      const weights = await toHost({ ...l.labeler.backbone.params, ...l.labeler.head });
      const tagger = { labels: l.config.labels, settings: l.config.labeler };
      return { config: l.config.model, weights, tagger, tokenizer: l.tokenizer, source: dir };
    } finally {
      l.labeler.dispose();
    }
  }
  throw new Error(
    `${path}: kind ${JSON.stringify(kind)} is not exportable (expected ${KINDS.join(' or ')}, or a Hugging Face config with model_type)`,
  );
}
