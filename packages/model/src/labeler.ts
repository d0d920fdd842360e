/**
 * @file Sequence labeling on any backbone: sequence repetition (r extra copies of the input, labels read from
 * the last copy), a head (dropout + linear) on the hidden states of any layer ℓ (early exit: blocks after ℓ
 * are not run), optional final norm, any mask policy, and the last-copy-only computation of the last layer run.
 */
import { type Tensor, concat, crossEntropy, dropout, gather, matmul, noGrad, tidy } from '@reprise/core';
import type { OutputRows } from './block.ts';
import { type MaskPolicy, causalLayers } from './masks.ts';
import type { ParamMap } from './params.ts';
import { type RepeatedBatch, lastCopyStart, repeatBatch } from './repetition.ts';
import type { Transformer } from './transformer.ts';

export interface LabelerOptions {
  numLabels: number;
  /** Extra copies of the input (0 = the plain model). */
  r?: number;
  /** The head reads the output of block ℓ (1..L, default L); later blocks are not computed. */
  layer?: number;
  /** Apply the backbone's final LayerNorm at the exit layer (default true). */
  finalNorm?: boolean;
  /** Attention mask per layer; default causal for a decoder, bidirectional for an encoder. */
  mask?: MaskPolicy;
  /** Token between copies (null: none, as in the paper). */
  separator?: number | null;
  /** Positions continue across copies (default, as in the paper) or restart per copy. */
  positions?: 'continue' | 'reset';
  /** In the last layer run, compute queries, attention output and MLP for the last copy only (default true). */
  lastCopyOnly?: boolean;
  /** Dropout before the linear head during training (0.1 in the paper). */
  headDropout?: number;
  /** Seed of the head's initialization. */
  seed?: number;
}

export const IGNORE_LABEL = -100;

export class SequenceLabeler {
  readonly backbone: Transformer;
  readonly options: Required<Omit<LabelerOptions, 'mask' | 'separator'>> & {
    mask: MaskPolicy;
    separator: number | null;
  };
  readonly head: ParamMap;

  constructor(backbone: Transformer, options: LabelerOptions, head?: ParamMap) {
    const cfg = backbone.config;
    const o = {
      r: options.r ?? 0,
      layer: options.layer ?? cfg.layers,
      finalNorm: options.finalNorm ?? true,
      mask: options.mask ?? (cfg.kind === 'encoder' ? 'bidirectional' : 'causal'),
      separator: options.separator ?? null,
      positions: options.positions ?? 'continue',
      lastCopyOnly: options.lastCopyOnly ?? true,
      headDropout: options.headDropout ?? 0.1,
      seed: options.seed ?? 0,
      numLabels: options.numLabels,
    };
    if (!Number.isInteger(o.r) || o.r < 0) throw new Error(`labeler: r must be an integer ≥ 0, got ${o.r}`);
    if (!Number.isInteger(o.layer) || o.layer < 1 || o.layer > cfg.layers)
      throw new Error(`labeler: layer ℓ must be in 1..${cfg.layers} (the backbone's layers), got ${o.layer}`);
    if (!Number.isInteger(o.numLabels) || o.numLabels < 1)
      throw new Error(`labeler: numLabels must be a positive integer, got ${o.numLabels}`);
    if (
      o.separator !== null &&
      !(Number.isInteger(o.separator) && o.separator >= 0 && o.separator < cfg.vocabSize)
    )
      throw new Error(
        `labeler: separator token ${o.separator} is outside the vocabulary 0..${cfg.vocabSize - 1}`,
      );
    causalLayers(o.mask, cfg.layers); // validates the policy now rather than at the first batch
    this.backbone = backbone;
    this.options = o;
    const dev = backbone.device;
    this.head = head ?? {
      'head.weight': dev.randn([cfg.dModel, o.numLabels], { seed: o.seed, std: 0.02 }).setRequiresGrad(),
      'head.bias': dev.zeros([o.numLabels]).setRequiresGrad(),
    };
    const w = this.head['head.weight'];
    if (
      !w ||
      w.shape.join() !== `${cfg.dModel},${o.numLabels}` ||
      this.head['head.bias']?.size !== o.numLabels
    )
      throw new Error(
        `labeler: the head must be weight [${cfg.dModel}, ${o.numLabels}] and bias [${o.numLabels}]`,
      );
  }

  /**
   * Parameters that training updates: the blocks up to ℓ, embeddings, final norm, head; with LoRA adapters on
   * the backbone (whose weights are then frozen), the adapters of the blocks up to ℓ and the head.
   */
  params(): ParamMap {
    const lora = this.backbone.lora;
    if (lora) return { ...lora.usedParams(this.options.layer), ...this.head };
    return { ...this.backbone.usedParams(this.options.layer, false), ...this.head };
  }

  /** Of `params()`, those exempt from weight decay: the backbone's (see params.ts) and the head's bias. */
  noDecay(): Tensor[] {
    const used = new Set(Object.values(this.params()));
    return [...this.backbone.noDecay().filter((t) => used.has(t)), this.head['head.bias']!];
  }

  /** Lays out a batch of token sequences (host side). */
  layout(sequences: readonly (readonly number[])[]): RepeatedBatch {
    const o = this.options;
    return repeatBatch(
      sequences,
      { r: o.r, separator: o.separator, positions: o.positions },
      { maxPositions: this.backbone.positionLimit },
    );
  }

  /**
   * The most sequences of `seq` tokens (after repetition) that one pass can take with every activation within
   * the adapter's largest bindable buffer: the widest is [sequences · seq, max(dFF, dModel, labels)] f32 (the
   * attention kernels choose their own form within the limit). At least 1: a single sequence too long for the
   * adapter fails in the kernel that cannot bind it, which names the limit.
   */
  maxSequencesPerPass(seq: number): number {
    const c = this.backbone.config;
    const widest = Math.max(c.dFF, c.dModel, this.options.numLabels);
    const bytes = this.backbone.device.backend.adapter.maxBufferBytes;
    return Math.max(1, Math.floor(bytes / (4 * seq * widest)));
  }

  /** Input embeddings of the original tokens [B, N, D] (each copy reads these rows). */
  embed(layout: RepeatedBatch): Tensor {
    const tokens = this.backbone.device.tensor(layout.baseTokens, [layout.batch, layout.baseSeq], 'i32');
    return this.backbone.embedTokens(tokens);
  }

  /** Label logits [B, N, C] at the last copy's tokens, from the original tokens' embeddings [B, N, D]. */
  forwardEmbedded(baseEmbeddings: Tensor, layout: RepeatedBatch, train = false): Tensor {
    const o = this.options;
    const dev = this.backbone.device;
    const { batch, seq, baseSeq } = layout;
    const dim = this.backbone.config.dModel;
    const plain = layout.r === 0 && layout.separator === null;
    let x = baseEmbeddings;
    if (!plain) {
      let table = baseEmbeddings.reshape([batch * baseSeq, dim]);
      if (layout.separator !== null)
        table = concat([table, this.backbone.embedTokens(dev.tensor([layout.separator], [1], 'i32'))], 0);
      x = gather(table, dev.tensor(layout.repeatIndex, [batch, seq], 'i32'));
    }
    const rows = dev.tensor(layout.lastCopyRows, [batch, baseSeq], 'i32');
    let outputRows: OutputRows | undefined;
    if (o.lastCopyOnly && !plain) {
      // The last copy is contiguous, so the exit layer's own mask applies with its queries offset (fused).
      outputRows = {
        rows,
        positions: dev.tensor(
          Int32Array.from(layout.lastCopyRows, (row) => layout.positions[row]!),
          [batch, baseSeq],
          'i32',
        ),
        queryStart: dev.tensor(lastCopyStart(layout), [batch], 'i32'),
      };
    }
    let h = this.backbone.hidden(x, {
      lengths: dev.tensor(layout.lengths, [batch], 'i32'),
      positions: dev.tensor(layout.positions, [batch, seq], 'i32'),
      mask: o.mask,
      layers: o.layer,
      finalNorm: o.finalNorm,
      train,
      outputRows,
    });
    if (!plain && !outputRows) h = gather(h.reshape([batch * seq, dim]), rows);
    if (train && o.headDropout > 0) h = dropout(h, o.headDropout, this.backbone.nextDropoutSeed());
    return matmul(h, this.head['head.weight']!, { bias: this.head['head.bias']! });
  }

  forward(layout: RepeatedBatch, train = false): Tensor {
    return this.forwardEmbedded(this.embed(layout), layout, train);
  }

  /** Mean cross-entropy over labeled rows; `labels` is [B·N] with IGNORE_LABEL on unlabeled tokens and padding. */
  loss(layout: RepeatedBatch, labels: Int32Array, train = true): Tensor {
    const { batch, baseSeq } = layout;
    if (labels.length !== batch * baseSeq)
      throw new Error(
        `labeler: labels must have batch·N = ${batch}·${baseSeq} entries, got ${labels.length}`,
      );
    const logits = this.forward(layout, train).reshape([batch * baseSeq, this.options.numLabels]);
    return crossEntropy(logits, this.backbone.device.tensor(labels, [batch * baseSeq], 'i32'), {
      ignoreIndex: IGNORE_LABEL,
    });
  }

  /** Frees the head and the backbone's tensors. */
  dispose(): void {
    for (const t of Object.values(this.head)) t.dispose();
    this.backbone.dispose();
  }

  /** Most likely label per token, per sentence (original lengths). */
  async predict(layout: RepeatedBatch): Promise<number[][]> {
    // tidy frees the forward pass's intermediates (no training scope is open here).
    const logits = tidy(() => noGrad(() => this.forward(layout, false)));
    const values = await logits.data();
    logits.dispose();
    const c = this.options.numLabels;
    return layout.baseLengths.map((n, b) =>
      Array.from({ length: n }, (_, i) => {
        const at = (b * layout.baseSeq + i) * c;
        let best = 0;
        for (let k = 1; k < c; k++) if (values[at + k]! > values[at + best]!) best = k;
        return best;
      }),
    );
  }
}
