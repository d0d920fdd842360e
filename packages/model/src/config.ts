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
  // The block's variant (Llama family, Qwen2). Each is optional and absent from today's configs and
  // checkpoints; absent means the GPT-2 block (`ARCHITECTURE_DEFAULTS`), so those stay as they were.
  /** 'layer': LayerNorm with gain and bias (GPT-2); 'rms': RMSNorm, gain only (Llama). */
  norm?: 'layer' | 'rms';
  /** ε of every norm, inside the square root. */
  normEps?: number;
  /** 'gelu': down(gelu(up(x))) with GELU's tanh form (GPT-2); 'swiglu': down(silu(gate(x))·up(x)) (Llama). */
  mlp?: 'gelu' | 'swiglu';
  /** Key/value heads (grouped-query attention): a divisor of `heads`; each serves heads/kvHeads query heads. */
  kvHeads?: number;
  /** Rotary base frequency θ: the pair i of a head turns by position·θ^(−2i/headDim). */
  ropeTheta?: number;
  /**
   * Which rotary pairs: 'half' = (i, i + headDim/2), the "rotate half" of GPT-NeoX and Hugging Face's Llama
   * family; 'interleaved' = (2i, 2i + 1), GPT-J's and the RoFormer paper's.
   */
  rotary?: 'half' | 'interleaved';
  /** The q, k and v projections have biases (GPT-2, Qwen2). */
  qkvBias?: boolean;
  /** The attention output projection has a bias (GPT-2). */
  attnOutBias?: boolean;
  /** The MLP's projections have biases (GPT-2). */
  mlpBias?: boolean;
}

/** The optional fields of the block's variant. */
export type ArchitectureField =
  | 'norm'
  | 'normEps'
  | 'mlp'
  | 'kvHeads'
  | 'ropeTheta'
  | 'rotary'
  | 'qkvBias'
  | 'attnOutBias'
  | 'mlpBias';

/** What an absent variant field means: today's GPT-2 block (kvHeads absent = heads). */
export const ARCHITECTURE_DEFAULTS = {
  norm: 'layer',
  normEps: 1e-5,
  mlp: 'gelu',
  ropeTheta: 10000,
  rotary: 'half',
  qkvBias: true,
  attnOutBias: true,
  mlpBias: true,
} as const satisfies Omit<Required<Pick<TransformerConfig, ArchitectureField>>, 'kvHeads'>;

/** The block's variant with every default filled in, and the head sizes it implies. */
export type Architecture = Required<Pick<TransformerConfig, ArchitectureField>> & {
  /** dModel / heads. */
  headDim: number;
  /** Width of k and v: kvHeads · headDim. */
  kvDim: number;
};

/** The config's variant fields, defaults filled in (read them through this, never from the config directly). */
export function architecture(cfg: TransformerConfig): Architecture {
  const d = ARCHITECTURE_DEFAULTS;
  const headDim = cfg.dModel / cfg.heads;
  const kvHeads = cfg.kvHeads ?? cfg.heads;
  return {
    norm: cfg.norm ?? d.norm,
    normEps: cfg.normEps ?? d.normEps,
    mlp: cfg.mlp ?? d.mlp,
    kvHeads,
    ropeTheta: cfg.ropeTheta ?? d.ropeTheta,
    rotary: cfg.rotary ?? d.rotary,
    qkvBias: cfg.qkvBias ?? d.qkvBias,
    attnOutBias: cfg.attnOutBias ?? d.attnOutBias,
    mlpBias: cfg.mlpBias ?? d.mlpBias,
    headDim,
    kvDim: kvHeads * headDim,
  };
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
  for (const key of ['vocabSize', 'dModel', 'heads', 'layers', 'dFF', 'maxPositions', 'kvHeads'] as const) {
    const v = cfg[key];
    if (key === 'kvHeads' && v === undefined) continue;
    if (!Number.isInteger(v) || v! < 1) throw new Error(`config.${key} must be a positive integer, got ${v}`);
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
  if (cfg.kvHeads !== undefined && cfg.heads % cfg.kvHeads !== 0) {
    throw new Error(
      `config.kvHeads (${cfg.kvHeads}) must divide config.heads (${cfg.heads}); ${cfg.heads} % ${cfg.kvHeads} = ${cfg.heads % cfg.kvHeads}`,
    );
  }
  validateArchitecture(cfg);
  if (typeof cfg.dropout !== 'number' || !(cfg.dropout >= 0 && cfg.dropout < 1))
    throw new Error(`config.dropout must be in [0, 1), got ${cfg.dropout}`);
  if (cfg.positions !== 'rotary' && cfg.positions !== 'learned')
    throw new Error(`config.positions must be 'rotary' or 'learned', got '${cfg.positions}'`);
  if (cfg.kind !== 'decoder' && cfg.kind !== 'encoder')
    throw new Error(`config.kind must be 'decoder' or 'encoder', got '${cfg.kind}'`);
  if (typeof cfg.tieEmbeddings !== 'boolean')
    throw new Error(`config.tieEmbeddings must be true or false, got ${cfg.tieEmbeddings}`);
}

/** The variant fields that are present: each of the expected kind. */
function validateArchitecture(cfg: TransformerConfig): void {
  const oneOf = (key: 'norm' | 'mlp' | 'rotary', values: readonly string[]) => {
    const v = cfg[key];
    if (v !== undefined && !values.includes(v))
      throw new Error(
        `config.${key} must be ${values.map((x) => `'${x}'`).join(' or ')}, got ${JSON.stringify(v)}`,
      );
  };
  oneOf('norm', ['layer', 'rms']);
  oneOf('mlp', ['gelu', 'swiglu']);
  oneOf('rotary', ['half', 'interleaved']);
  for (const key of ['normEps', 'ropeTheta'] as const) {
    const v = cfg[key];
    if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v) && v > 0))
      throw new Error(`config.${key} must be a finite number > 0, got ${v}`);
  }
  for (const key of ['qkvBias', 'attnOutBias', 'mlpBias'] as const) {
    const v = cfg[key];
    if (v !== undefined && typeof v !== 'boolean')
      throw new Error(`config.${key} must be true or false, got ${v}`);
  }
}
