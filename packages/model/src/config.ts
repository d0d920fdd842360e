/**
 * @file The transformer's configuration: one plain object, defaults, and validation with clear messages (the
 * parameters it implies are declared in params.ts).
 */
import { configSizeProblem } from './config-limits.ts';

export interface TransformerConfig {
  vocabSize: number;
  dModel: number;
  heads: number;
  layers: number;
  /** Hidden width of the MLP (4·dModel by convention). */
  dFF: number;
  /** Size of the position table (learned) or of the rotary tables: the longest sequence the model accepts. */
  maxPositions: number;
  /** Dropout after the embeddings and on each residual branch during training. */
  dropout: number;
  /** Rotary position embedding (default, as in the decoders the research used) or a learned table. */
  positions: 'rotary' | 'learned';
  /** The LM head reuses the token embedding (GPT-2). */
  tieEmbeddings: boolean;
  /** A decoder is causal unless a mask policy says otherwise; an encoder attends both ways in every layer. */
  kind: 'decoder' | 'encoder';
}

export const DEFAULT_CONFIG: Omit<TransformerConfig, 'vocabSize'> = {
  dModel: 128,
  heads: 4,
  layers: 4,
  dFF: 512,
  maxPositions: 512,
  dropout: 0.1,
  positions: 'rotary',
  tieEmbeddings: true,
  kind: 'decoder',
};

/** Fills defaults and checks every field; throws naming the field, what was expected and what was found. */
export function makeConfig(
  partial: Partial<TransformerConfig> & Pick<TransformerConfig, 'vocabSize'>,
): TransformerConfig {
  const cfg: TransformerConfig = { ...DEFAULT_CONFIG, ...partial };
  if (partial.dFF === undefined && partial.dModel !== undefined) cfg.dFF = 4 * cfg.dModel;
  validateConfig(cfg);
  return cfg;
}

export function validateConfig(cfg: TransformerConfig): void {
  for (const key of ['vocabSize', 'dModel', 'heads', 'layers', 'dFF', 'maxPositions'] as const) {
    const v = cfg[key];
    if (!Number.isInteger(v) || v < 1) throw new Error(`config.${key} must be a positive integer, got ${v}`);
  }
  // Before anything derived from the sizes is computed or allocated.
  const tooLarge = configSizeProblem(cfg);
  if (tooLarge) throw new Error(tooLarge);
  if (cfg.dModel % cfg.heads !== 0) {
    throw new Error(
      `config.heads (${cfg.heads}) must divide config.dModel (${cfg.dModel}); ${cfg.dModel} % ${cfg.heads} = ${cfg.dModel % cfg.heads}`,
    );
  }
  const headDim = cfg.dModel / cfg.heads;
  if (cfg.positions === 'rotary' && headDim % 2 !== 0) {
    throw new Error(`rotary positions need an even head size, got dModel/heads = ${headDim}`);
  }
  if (typeof cfg.dropout !== 'number' || !(cfg.dropout >= 0 && cfg.dropout < 1))
    throw new Error(`config.dropout must be in [0, 1), got ${cfg.dropout}`);
  if (cfg.positions !== 'rotary' && cfg.positions !== 'learned')
    throw new Error(`config.positions must be 'rotary' or 'learned', got '${cfg.positions}'`);
  if (cfg.kind !== 'decoder' && cfg.kind !== 'encoder')
    throw new Error(`config.kind must be 'decoder' or 'encoder', got '${cfg.kind}'`);
  if (typeof cfg.tieEmbeddings !== 'boolean')
    throw new Error(`config.tieEmbeddings must be true or false, got ${cfg.tieEmbeddings}`);
}
