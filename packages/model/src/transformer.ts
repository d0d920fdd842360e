/**
 * @file The backbone: token (and learned position) embeddings, N pre-norm blocks with a per-layer mask, a final
 * norm (LayerNorm, or RMSNorm in the Llama variant) and an LM head (tied to the embedding by default). A decoder
 * or an encoder by its config; the hidden states can stop after any layer (early exit: later blocks are not
 * computed).
 */
import { type Device, type Tensor, concat, crossEntropy, dropout, gather, keep, matmul } from '@reprise/core';
import { type AttentionTap, type BlockContext, type OutputRows, norm, runBlock } from './block.ts';
import { type TransformerConfig, architecture, validateConfig } from './config.ts';
import type { LoraAdapters } from './lora.ts';
import { type MaskPolicy, causalLayers } from './masks.ts';
import { type ParamMap, initParams, noDecayNames, paramShapes, parameterCount } from './params.ts';
import { type RotaryTables, rotaryTables } from './rotary.ts';
import { groupRowBlocks, joinedShape, parameterName } from './row-blocks.ts';

export interface HiddenOptions {
  /** i32 [B]: valid length of each sequence; padding sits at the end and is masked in every layer. */
  lengths: Tensor;
  /** i32 [B, T]: the position of each token. */
  positions: Tensor;
  /** Which layers are causal; default: a decoder's are, an encoder's are not. */
  mask?: MaskPolicy;
  /** Run only the first `layers` blocks (1..L; default L). */
  layers?: number;
  /** Apply the final norm after the last block run (default true). */
  finalNorm?: boolean;
  /** Dropout on (training). */
  train?: boolean;
  /** Compute the last block run for these rows only (see OutputRows). */
  outputRows?: OutputRows;
  /** Called once per block run with its attention's inputs and output (analysis only, see AttentionTap). */
  onAttention?: (tap: AttentionTap) => void;
}

/** A table's row blocks (row-blocks.ts) with their first rows; one block at row 0 for a table held whole. */
type RowBlocks = { tensor: Tensor; start: number }[];

export class Transformer {
  readonly device: Device;
  readonly config: TransformerConfig;
  /**
   * The parameters by checkpoint name, in the config's order; a table above the adapter's largest bindable buffer
   * is there as its row blocks (`embed.tokens@rows0`, `embed.tokens@rows43690`..., see row-blocks.ts).
   */
  readonly params: ParamMap;
  /** Token table and untied head (whole or in row blocks), what lookups and logits read. */
  #tables: Record<'embed.tokens' | 'lmHead.weight', RowBlocks | null>;
  /**
   * Rotary cos/sin tables for the queries' heads and the keys' (one object unless grouped-query attention gives
   * the keys fewer heads); computed, so they grow on demand past maxPositions (see positionLimit).
   */
  #rotary: { q: RotaryTables; k: RotaryTables } | null;
  #rotaryRows: number;
  /** Counts dropout masks drawn, so that each gets a fresh seed; saved with a checkpoint for exact resume. */
  dropoutCounter = 0;
  dropoutSeed: number;
  /** LoRA adapters on the projections (lora.ts: set by `attachLora`, which freezes `params`), or null. */
  lora: LoraAdapters | null = null;

  constructor(device: Device, config: TransformerConfig, params: ParamMap, seed = 0) {
    validateConfig(config);
    const shapes = paramShapes(config);
    const groups = groupRowBlocks(params);
    for (const [name, shape] of Object.entries(shapes)) {
      const blocks = groups.get(name);
      if (!blocks) throw new Error(`Transformer: parameter '${name}' ${fmtShape(shape)} is missing`);
      const got = joinedShape(blocks);
      if (got.join() !== shape.join())
        throw new Error(
          `Transformer: parameter '${name}' must be ${fmtShape(shape)}, got ${fmtShape(got)}${blocks.length > 1 ? ` in ${blocks.length} row blocks` : ''}`,
        );
    }
    const extra = [...groups.keys()].filter((n) => !(n in shapes));
    if (extra.length) throw new Error(`Transformer: unexpected parameters ${extra.join(', ')}`);
    this.device = device;
    this.config = config;
    // A fixed order (the config's, blocks by row), whatever order the caller's map has: optimizers and
    // checkpoints rely on it.
    this.params = Object.fromEntries(
      Object.keys(shapes).flatMap((name) => groups.get(name)!.map((b) => [b.name, b.tensor])),
    );
    const table = (name: string): RowBlocks | null =>
      groups.get(name)?.map((b) => ({ tensor: b.tensor, start: b.start })) ?? null;
    this.#tables = { 'embed.tokens': table('embed.tokens'), 'lmHead.weight': table('lmHead.weight') };
    this.dropoutSeed = seed;
    this.#rotaryRows = config.maxPositions;
    this.#rotary = config.positions === 'rotary' ? this.#buildRotary(config.maxPositions) : null;
  }

  /** Rotary tables for positions 0..rows−1, per the config's base frequency and pair convention. */
  #buildRotary(rows: number): { q: RotaryTables; k: RotaryTables } {
    const cfg = this.config;
    const a = architecture(cfg);
    const q = rotaryTables(this.device, rows, cfg.dModel, cfg.heads, a.ropeTheta, a.rotary);
    const k =
      a.kvHeads === cfg.heads
        ? q
        : rotaryTables(this.device, rows, a.kvDim, a.kvHeads, a.ropeTheta, a.rotary);
    return { q, k };
  }

  #disposeRotary(): void {
    const { q, k } = this.#rotary ?? {};
    for (const tables of new Set([q, k])) for (const t of tensorsOf(tables)) t.dispose();
  }

  /**
   * Longest sequence the model accepts: maxPositions with a learned position table (fixed size), unbounded
   * with rotary positions, whose tables are computed for the length needed (positions past the pretraining
   * context are extrapolated). Lets sequence repetition keep the same subword cap for every r.
   */
  get positionLimit(): number {
    return this.config.positions === 'learned' ? this.config.maxPositions : Number.POSITIVE_INFINITY;
  }

  /** Rotary tables covering positions 0..rows−1, regrown (at least doubled) when a longer sequence comes. */
  #rotaryFor(rows: number): { q: RotaryTables; k: RotaryTables } | null {
    if (!this.#rotary || rows <= this.#rotaryRows) return this.#rotary;
    const grown = Math.max(rows, 2 * this.#rotaryRows);
    this.#disposeRotary();
    const tables = this.#buildRotary(grown);
    // Built inside a caller's tidy scope, but they outlive it.
    for (const t of [...tensorsOf(tables.q), ...tensorsOf(tables.k)]) keep(t);
    this.#rotary = tables;
    this.#rotaryRows = grown;
    return tables;
  }

  /** A freshly initialized model (GPT-2 initialization from `seed`). */
  static create(device: Device, config: TransformerConfig, seed = 0): Transformer {
    return new Transformer(device, config, initParams(device, config, seed), seed);
  }

  get parameterCount(): number {
    return parameterCount(this.config);
  }

  /** Parameters of the blocks a run up to `layers` uses, plus embeddings and final norm (the optimizer's set). */
  usedParams(layers = this.config.layers, withLmHead = true): ParamMap {
    return Object.fromEntries(
      Object.entries(this.params).filter(([name]) => {
        const block = /^blocks\.(\d+)\./.exec(name);
        if (block) return Number(block[1]) < layers;
        return withLmHead || parameterName(name) !== 'lmHead.weight';
      }),
    );
  }

  /** The parameters exempt from weight decay (embeddings, biases, norm gains; see params.ts). */
  noDecay(): Tensor[] {
    const names = noDecayNames(this.config);
    return Object.entries(this.params)
      .filter(([name]) => names.has(parameterName(name)))
      .map(([, t]) => t);
  }

  /** Token embeddings of i32 ids [...] → [..., D]. */
  embedTokens(tokens: Tensor): Tensor {
    const blocks = this.#tables['embed.tokens']!;
    if (blocks.length === 1) return gather(blocks[0]!.tensor, tokens);
    // Each block gives its own rows and zeros elsewhere: their sum is the whole table's lookup.
    return blocks
      .map((b) => gather(b.tensor, tokens, { offset: b.start }))
      .reduce((sum, rows) => sum.add(rows));
  }

  /** Hidden states [B, T, D] (or [B, N, D] with outputRows) after `layers` blocks, from input embeddings. */
  hidden(x: Tensor, options: HiddenOptions): Tensor {
    const cfg = this.config;
    const layers = options.layers ?? cfg.layers;
    if (!Number.isInteger(layers) || layers < 1 || layers > cfg.layers)
      throw new Error(`Transformer: layers must be in 1..${cfg.layers}, got ${layers}`);
    const [batch, seq] = x.shape as [number, number];
    if (seq > this.positionLimit) {
      throw new Error(
        `Transformer: sequence of ${seq} tokens exceeds config.maxPositions = ${cfg.maxPositions} (learned positions) by ${seq - cfg.maxPositions}`,
      );
    }
    // Positions run 0..seq−1 at most (continued across copies, or reset per copy).
    const rotary = this.#rotaryFor(seq);
    if (options.positions.shape.join() !== `${batch},${seq}`)
      throw new Error(`Transformer: positions must be [${batch}, ${seq}], got [${options.positions.shape}]`);
    const causal = causalLayers(
      options.mask ?? (cfg.kind === 'encoder' ? 'bidirectional' : 'causal'),
      cfg.layers,
    );
    const train = (options.train ?? false) && cfg.dropout > 0;
    const drop = train ? { p: cfg.dropout, nextSeed: () => this.nextDropoutSeed() } : null;
    const loraP = this.lora?.config.dropout ?? 0;
    const lora = this.lora && {
      adapters: this.lora,
      dropout: options.train && loraP > 0 ? { p: loraP, nextSeed: () => this.nextDropoutSeed() } : null,
    };
    if (cfg.positions === 'learned') x = x.add(gather(this.params['embed.positions']!, options.positions));
    if (drop) x = dropout(x, drop.p, drop.nextSeed());
    for (let l = 0; l < layers; l++) {
      const ctx: BlockContext = {
        config: cfg,
        causal: causal[l]!,
        lengths: options.lengths,
        positions: rotary ? options.positions : null,
        rotary,
        dropout: drop,
        lora,
        onAttention: options.onAttention,
      };
      x = runBlock(this.params, l, x, ctx, l === layers - 1 ? options.outputRows : undefined);
    }
    if (options.finalNorm ?? true)
      x = norm(architecture(cfg), x, this.params['norm.weight']!, this.params['norm.bias']);
    return x;
  }

  /** LM logits [..., V] of hidden states (after the final norm). */
  logits(hidden: Tensor): Tensor {
    const blocks = this.#tables['lmHead.weight'] ?? this.#tables['embed.tokens']!;
    const logits = blocks.map((b) => matmul(hidden, b.tensor, { transB: true }));
    return logits.length === 1 ? logits[0]! : concat(logits, -1);
  }

  /**
   * Language-model loss of i32 tokens [B, T] against i32 targets [B, T] (−100 = ignored), with causal or
   * bidirectional attention per the config (LM for a decoder, MLM for an encoder: the caller builds targets).
   */
  lmLoss(tokens: Tensor, targets: Tensor, options: Omit<HiddenOptions, 'outputRows' | 'layers'>): Tensor {
    const h = this.hidden(this.embedTokens(tokens), options);
    return crossEntropy(this.logits(h), targets);
  }

  /** Frees the parameters, the LoRA adapters and the position tables. */
  dispose(): void {
    for (const t of Object.values(this.params)) t.dispose();
    this.lora?.dispose();
    this.#disposeRotary();
  }

  /** A distinct, reproducible seed for the next dropout mask. */
  nextDropoutSeed(): number {
    // A distinct, reproducible seed per dropout mask: (model seed, counter) hashed to 31 bits.
    const n = this.dropoutCounter++;
    return (Math.imul(this.dropoutSeed ^ 0x5bd1e995, 0x9e3779b1) + Math.imul(n, 0x85ebca6b)) >>> 1;
  }
}

const fmtShape = (shape: readonly number[]) => `[${shape.join(', ')}]`;
const tensorsOf = (tables: RotaryTables | undefined): Tensor[] => (tables ? [tables.cos, tables.sin] : []);
