/**
 * @file Multi-head attention: fused (FlashAttention-style kernels, no T×T buffer, O(T) memory) or unfused
 * (scores = Q·Kᵀ, masked softmax, ·V, differentiated op by op). Both take the same masks: causal or not,
 * plus per-sequence key lengths (padding).
 */
import { record } from '../autograd/graph.ts';
import { tidy } from '../scope.ts';
import { fmt } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { launch, launchInto, requireDtype } from './apply.ts';
import { permute } from './layout.ts';
import { matmul } from './matmul.ts';

export interface AttentionOptions {
  /** Each query sees only keys at or before its position (default true). */
  causal?: boolean;
  /** Valid length of each sequence in the batch (i32 tensor [B] or numbers); keys beyond get no weight. */
  lengths?: Tensor | readonly number[];
  /** 'auto' picks per shape (see `chooseAttentionImpl`). */
  impl?: 'auto' | 'fused' | 'unfused';
  /** Score scale, default 1/√d. */
  scale?: number;
  /**
   * Memory order of q, k, v and the output: 'bhtd' ([B, H, T, d], the default) or 'bthd' ([B, T, H, d]: a
   * [B, T, H·d] activation reshaped, so the fused path needs no head split/merge copies).
   */
  layout?: 'bhtd' | 'bthd';
}

/**
 * The path per shape and adapter, from measurements (docs/perf-notes.md): on software adapters the fused
 * kernels win (1.7–1.9× forward+backward at T=512, d=64 on llvmpipe); on a real GPU (H200) the unfused path
 * over the tiled matmul is 7–14× faster, so it is used there while its B·H·T×T scores fit one buffer.
 * The fused kernels need a head dim that is a multiple of 4.
 */
export function chooseAttentionImpl(
  shape: readonly number[],
  adapter: { isSoftware: boolean; maxBufferBytes: number },
): 'fused' | 'unfused' {
  const [batch, heads, seq, headDim] = shape as [number, number, number, number];
  const fusable = headDim % 4 === 0 && headDim <= 256;
  if (!fusable) return 'unfused';
  if (adapter.isSoftware) return 'fused';
  return batch * heads * seq * seq * 4 <= adapter.maxBufferBytes ? 'unfused' : 'fused';
}

/** q, k, v: [B, H, T, d] → [B, H, T, d], or [B, T, H, d] → [B, T, H, d] with `layout: 'bthd'`. */
export function attention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): Tensor {
  for (const t of [q, k, v]) requireDtype('attention', t, 'f32');
  const layout = options.layout ?? 'bhtd';
  if (layout !== 'bhtd' && layout !== 'bthd')
    throw new Error(`attention: layout ${String(layout)} must be 'bhtd' or 'bthd'`);
  if (q.rank !== 4 || q.shape.join() !== k.shape.join() || q.shape.join() !== v.shape.join()) {
    const dims = layout === 'bthd' ? 'batch, seq, heads, headDim' : 'batch, heads, seq, headDim';
    throw new Error(
      `attention: q, k, v must share one [${dims}] shape (layout '${layout}'), got ${fmt(q.shape)}, ${fmt(k.shape)}, ${fmt(v.shape)}`,
    );
  }
  const [batch, heads, seq, headDim] = (
    layout === 'bthd' ? [q.shape[0], q.shape[2], q.shape[1], q.shape[3]] : q.shape
  ) as [number, number, number, number];
  const causal = options.causal ?? true;
  const scale = options.scale ?? 1 / Math.sqrt(headDim);
  const impl =
    !options.impl || options.impl === 'auto'
      ? chooseAttentionImpl([batch, heads, seq, headDim], q.device.backend.adapter)
      : options.impl;
  return tidy(() => {
    const lengths = lengthsTensor(q, batch, seq, options.lengths);
    if (impl === 'unfused') {
      // The matmuls need heads outside the rows: [B, T, H, d] ↔ [B, H, T, d] (the same permutation both ways).
      const toHeads = (t: Tensor) => (layout === 'bthd' ? permute(t, [0, 2, 1, 3]) : t);
      const scores = matmul(toHeads(q), toHeads(k), { transB: true }).mul(scale);
      return toHeads(matmul(maskedSoftmax(scores, lengths, causal), toHeads(v)));
    }
    const p = { batch, heads, seq, headDim, causal, scale, layout };
    const [out, lse] = launchInto(
      'attention',
      'attentionForward',
      [q, k, v, lengths],
      [{ shape: q.shape }, { shape: [batch, heads, seq] }],
      p,
    );
    return record(out!, 'attention', [q, k, v, lengths, lse!], p);
  });
}

function lengthsTensor(
  like: Tensor,
  batch: number,
  seq: number,
  lengths: AttentionOptions['lengths'],
): Tensor {
  if (lengths === undefined) return like.device.full([batch], seq, 'i32');
  if (!Array.isArray(lengths) && !(lengths as Tensor).shape)
    throw new Error('attention: lengths must be a tensor or an array');
  const t = Array.isArray(lengths)
    ? like.device.tensor(lengths as number[], [lengths.length], 'i32')
    : (lengths as Tensor);
  requireDtype('attention (lengths)', t, 'i32');
  if (t.shape.join() !== `${batch}`)
    throw new Error(`attention: lengths must be [${batch}], got ${fmt(t.shape)}`);
  if (Array.isArray(lengths) && lengths.some((l) => !(l >= 0 && l <= seq))) {
    throw new Error(`attention: lengths [${lengths}] must lie in 0..${seq}`);
  }
  return t;
}

/** Softmax of scores [B, H, T, T] over the keys each query may see; masked entries and padded rows are 0. */
export function maskedSoftmax(scores: Tensor, lengths: Tensor, causal: boolean): Tensor {
  const [batch, heads, seq] = scores.shape as [number, number, number];
  const out = launch(
    'maskedSoftmax',
    'maskedSoftmax',
    [scores, lengths],
    { batch, heads, seq, causal },
    scores.shape,
  );
  return record(out, 'maskedSoftmax', [scores, lengths]);
}
