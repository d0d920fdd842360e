/**
 * @file The schemas of a checkpoint's config.json (backbone and labeler) and of trainer.json, declared once:
 * the TypeScript types of those files are inferred from them. Sizes are capped (see @reprise/model's
 * config-limits) so that a hostile config is refused before anything is allocated.
 */
import {
  CONFIG_FIELD_LIMITS,
  LORA_TARGETS,
  type LabelerOptions,
  type TransformerConfig,
  validateConfig,
  validateLoraConfig,
} from '@reprise/model';
import { z } from 'zod';
import { count, strictObject } from '../io/validate.ts';

const size = (key: keyof typeof CONFIG_FIELD_LIMITS) => z.number().int().min(1).max(CONFIG_FIELD_LIMITS[key]);

/** A backbone's TransformerConfig as stored in config.json's `model`. */
export const transformerConfigSchema = strictObject({
  vocabSize: size('vocabSize'),
  dModel: size('dModel'),
  heads: size('heads'),
  layers: size('layers'),
  dFF: size('dFF'),
  maxPositions: size('maxPositions'),
  dropout: z.number().min(0).lt(1),
  positions: z.enum(['rotary', 'learned']),
  tieEmbeddings: z.boolean(),
  kind: z.enum(['decoder', 'encoder']),
  // The block's variant (@reprise/model's config.ts): absent from GPT-2-style backbones, set for Llama-shaped ones.
  norm: z.enum(['layer', 'rms']).optional(),
  normEps: z.number().positive().optional(),
  mlp: z.enum(['gelu', 'swiglu']).optional(),
  kvHeads: size('kvHeads').optional(),
  ropeTheta: z.number().positive().optional(),
  rotary: z.enum(['half', 'interleaved']).optional(),
  qkvBias: z.boolean().optional(),
  attnOutBias: z.boolean().optional(),
  mlpBias: z.boolean().optional(),
}).superRefine((cfg, ctx) => {
  // Relations (heads divide dModel, even rotary heads) and the byte budget: the model's own check.
  try {
    validateConfig(cfg);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
  }
});
// The schema and the model's interface must describe the same object.
transformerConfigSchema.parse satisfies (v: unknown) => TransformerConfig;

/** The run's options, kept for the record and for resume checks: any JSON object. */
const trainingRecord = z.record(z.string(), z.unknown());

export const backboneConfigSchema = strictObject({
  kind: z.literal('reprise-backbone', {
    error: 'this is not a reprise backbone (expected "reprise-backbone")',
  }),
  model: transformerConfigSchema,
  objective: z.enum(['clm', 'mlm']),
  training: trainingRecord,
}).refine((c) => (c.model.kind === 'encoder') === (c.objective === 'mlm'), {
  message: 'objective must be mlm for an encoder and clm for a decoder',
  path: ['objective'],
});
export type BackboneConfigFile = z.infer<typeof backboneConfigSchema>;

const maskSchema = z.union([
  z.enum(['causal', 'bidirectional', 'unmask-full', 'unmask-middle']),
  strictObject({ unmaskedLayers: z.array(count()).max(CONFIG_FIELD_LIMITS.layers).readonly() }),
]);

/** The labeler's settings: LabelerOptions without numLabels (from the labels) and seed (training only). */
export const labelerSettingsSchema = strictObject({
  r: count().max(1024).optional(),
  layer: z.number().int().min(1).optional(),
  finalNorm: z.boolean().optional(),
  mask: maskSchema.optional(),
  separator: count().nullable().optional(),
  positions: z.enum(['continue', 'reset']).optional(),
  lastCopyOnly: z.boolean().optional(),
  headDropout: z.number().min(0).lt(1).optional(),
});
labelerSettingsSchema.parse satisfies (v: unknown) => Omit<LabelerOptions, 'numLabels' | 'seed'>;

/** Label sets are small; the bound keeps a hostile list from sizing the head. */
export const MAX_LABELS = 4096;

/**
 * LoRA fine-tuning (@reprise/model's lora.ts): the adapters' config and the base they need, which the checkpoint
 * does not hold (its directory and the SHA-256 of its weight files; see lora-checkpoint.ts).
 */
export const loraRecordSchema = strictObject({
  rank: z.number().int().min(1).max(CONFIG_FIELD_LIMITS.dModel),
  alpha: z.number().positive(),
  dropout: z.number().min(0).lt(1),
  targets: z.array(z.enum(LORA_TARGETS)).min(1).max(LORA_TARGETS.length),
  base: strictObject({
    dir: z.string().min(1).max(4096),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
  }),
});

export const labelerConfigSchema = strictObject({
  kind: z.literal('reprise-labeler', {
    error: 'this is not a fine-tuned labeler (expected "reprise-labeler")',
  }),
  model: transformerConfigSchema,
  labeler: labelerSettingsSchema,
  labels: z.array(z.string().min(1).max(200)).min(1).max(MAX_LABELS),
  // The subword cap; rotary models may exceed maxPositions (their tables grow), so no relation is checked.
  maxTokens: z.number().int().min(1).max(CONFIG_FIELD_LIMITS.maxPositions),
  labelSubword: z.enum(['first', 'last']),
  training: trainingRecord,
  /** Present for a LoRA fine-tuning: the weights are then the adapters and the head. */
  lora: loraRecordSchema.optional(),
}).superRefine((c, ctx) => {
  const { layers, vocabSize } = c.model;
  const issue = (path: PropertyKey[], message: string) => ctx.addIssue({ code: 'custom', path, message });
  if (c.lora) {
    // Targets the model has, a rank its projections allow: the model's own check.
    try {
      validateLoraConfig(c.model, c.lora);
    } catch (e) {
      issue(['lora'], (e as Error).message);
    }
  }
  if (new Set(c.labels).size !== c.labels.length) issue(['labels'], 'labels must be distinct');
  if (c.labeler.layer !== undefined && c.labeler.layer > layers)
    issue(['labeler', 'layer'], `must be in 1..${layers} (model.layers)`);
  if (c.labeler.separator != null && c.labeler.separator >= vocabSize)
    issue(['labeler', 'separator'], `must be a token id below model.vocabSize (${vocabSize})`);
  const mask = c.labeler.mask;
  if (typeof mask === 'object' && mask.unmaskedLayers.some((l) => l >= layers))
    issue(['labeler', 'mask', 'unmaskedLayers'], `layers must be in 0..${layers - 1}`);
});
export type LabelerConfigFile = z.infer<typeof labelerConfigSchema>;

/** trainer.json of a pretraining checkpoint. */
export const pretrainTrainerSchema = strictObject({ step: count(), dropoutCounter: count() });
export type PretrainTrainerState = z.infer<typeof pretrainTrainerSchema>;

const epochRecordSchema = strictObject({
  epoch: z.number().int().min(1),
  trainLoss: z.number(),
  seconds: z.number().nonnegative(),
  cpuSeconds: z.number().nonnegative().optional(),
  dev: strictObject({
    accuracy: z.number().min(0).max(1),
    f1: z.number().nullable(),
    lenientF1: z.number().nullable().optional(),
  }),
});

/** trainer.json of a fine-tuning checkpoint (`last`). */
export const finetuneTrainerSchema = strictObject({
  step: count(),
  dropoutCounter: count(),
  history: z.array(epochRecordSchema),
  bestEpoch: count(),
  bestScore: z.number(),
  // A checkpoint written inside an epoch: what that epoch has done so far (absent at an epoch's end).
  epochSoFar: strictObject({
    seconds: z.number().nonnegative(),
    cpuSeconds: z.number().nonnegative(),
    lossSum: z.number(),
    lossCount: count(),
  }).optional(),
}).superRefine((t, ctx) => {
  t.history.forEach((h, i) => {
    if (h.epoch !== i + 1)
      ctx.addIssue({ code: 'custom', path: ['history', i, 'epoch'], message: `expected epoch ${i + 1}` });
  });
  if (t.bestEpoch > t.history.length)
    ctx.addIssue({
      code: 'custom',
      path: ['bestEpoch'],
      message: `must be 0 or an epoch of history (1..${t.history.length})`,
    });
});
export type FinetuneTrainerState = z.infer<typeof finetuneTrainerSchema>;
