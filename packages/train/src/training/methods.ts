/**
 * @file The fine-tuning methods the research compares, as labeler settings: the plain causal decoder,
 * sequence repetition with r copies, causal-mask removal in all, the middle, or listed layers, and the
 * bidirectional encoder.
 */
import type { LabelerOptions, MaskPolicy, TransformerConfig } from '@reprise/model';

export const METHODS = ['causal', 'sr', 'unmask-full', 'unmask-middle', 'unmask-layers', 'encoder'] as const;
export type Method = (typeof METHODS)[number];

export interface MethodOptions {
  method: Method;
  /** Extra copies for `sr` (≥ 1). */
  r: number;
  /** For `unmask-layers`: 0-based layers without the causal mask. */
  unmaskedLayers: number[];
  /** Head on block ℓ (1..L); null = L. */
  layer: number | null;
  finalNorm: boolean;
  /** A [SEP] token between copies. */
  separator: boolean;
  positions: 'continue' | 'reset';
  lastCopyOnly: boolean;
  headDropout: number;
}

export type LabelerSettings = Omit<LabelerOptions, 'numLabels' | 'seed'>;

/** Labeler settings for a method on a backbone; refuses combinations that make no sense, saying why. */
export function labelerSettings(
  o: MethodOptions,
  backbone: TransformerConfig,
  sepToken: number | undefined,
): LabelerSettings {
  if (!(METHODS as readonly string[]).includes(o.method))
    throw new Error(`unknown method '${o.method}' (expected ${METHODS.join(', ')})`);
  const isEncoder = backbone.kind === 'encoder';
  if (o.method === 'encoder' && !isEncoder)
    throw new Error("method 'encoder' needs an encoder backbone (pretrained with --kind encoder)");
  if (o.method !== 'encoder' && isEncoder)
    throw new Error(
      `method '${o.method}' needs a decoder backbone; this one is an encoder (use --method encoder)`,
    );
  if (o.method === 'sr' && !(Number.isInteger(o.r) && o.r >= 1))
    throw new Error(`method 'sr' needs r ≥ 1 extra copies, got r = ${o.r} (r = 0 is --method causal)`);
  // A foreign (Hugging Face) tokenizer has no separator token to put between copies.
  if (o.separator && o.method === 'sr' && sepToken === undefined)
    throw new Error(
      "--separator needs a separator token between copies, and this backbone's tokenizer (a Hugging Face model's) has none; leave --separator out (the paper's copies have no separator)",
    );
  const mask: Record<Method, MaskPolicy> = {
    causal: 'causal',
    sr: 'causal',
    'unmask-full': 'unmask-full',
    'unmask-middle': 'unmask-middle',
    'unmask-layers': { unmaskedLayers: o.unmaskedLayers },
    encoder: 'bidirectional',
  };
  return {
    r: o.method === 'sr' ? o.r : 0,
    mask: mask[o.method],
    layer: o.layer ?? backbone.layers,
    finalNorm: o.finalNorm,
    separator: o.separator && o.method === 'sr' ? (sepToken ?? null) : null,
    positions: o.positions,
    lastCopyOnly: o.lastCopyOnly,
    headDropout: o.headDropout,
  };
}

/** A short name for tables: "SR r=2", "causal", "unmask-middle", with "ℓ=3" when the head is not on top. */
export function methodLabel(o: Pick<MethodOptions, 'method' | 'r' | 'layer'>, layers: number): string {
  const base = o.method === 'sr' ? `SR r=${o.r}` : o.method === 'causal' ? 'causal r=0' : o.method;
  return o.layer && o.layer !== layers ? `${base} ℓ=${o.layer}/${layers}` : base;
}
