/**
 * @file Multi-head attention: fused (FlashAttention-style kernels, no T×T buffer, O(T) memory; the fused op is
 * ./fused/attention.ts) or unfused (scores = Q·Kᵀ, masked softmax, ·V, differentiated op by op). Both take the same masks: causal or not,
 * plus per-sequence key lengths (padding), and queries may be a contiguous block of Tq ≤ T rows per sequence at
 * an offset (`queryStart`), e.g. the last copy of a repeated sequence.
 * Grouped-query attention (Llama 2 70B, Mistral, Qwen2) needs no option: k and v may hold fewer heads (KV, a
 * divisor of q's H), read from their shape; query head h uses key/value head ⌊h/(H/KV)⌋, as Hugging Face's
 * `repeat_kv` has it. The fused kernels index the shared heads; the unfused path views each group's queries as
 * one taller matrix against its key/value head, so neither copies k or v.
 */
import { record } from '../autograd/graph.ts';
import { tidy } from '../scope.ts';
import { fmt } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { launch, requireDtype } from './apply.ts';
import { fusedAttention } from './fused/attention.ts';
import { permute, reshape } from './layout.ts';
import { matmul } from './matmul.ts';

export interface AttentionOptions {
  /** Each query sees only keys at or before its position (default true). */
  causal?: boolean;
  /** Valid length of each sequence in the batch (i32 tensor [B] or numbers); keys beyond get no weight. */
  lengths?: Tensor | readonly number[];
  /**
   * Key position of each sequence's first query row (i32 tensor [B] or numbers, default 0): query row i of
   * sequence b sits at position queryStart[b] + i, which the causal mask compares with; query rows at positions
   * ≥ lengths[b] give zeros and no gradient. Lets q hold fewer rows (Tq) than k and v (T).
   */
  queryStart?: Tensor | readonly number[];
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
  queries = shape[2]!,
): 'fused' | 'unfused' {
  const [batch, heads, seq, headDim] = shape as [number, number, number, number];
  const fusable = headDim % 4 === 0 && headDim <= 256;
  if (!fusable) return 'unfused';
  if (adapter.isSoftware) return 'fused';
  return batch * heads * queries * seq * 4 <= adapter.maxBufferBytes ? 'unfused' : 'fused';
}

/**
 * q: [B, H, Tq, d], k, v: [B, KV, T, d] → [B, H, Tq, d], or [B, Tq, H, d] and [B, T, KV, d] → [B, Tq, H, d] with
 * `layout: 'bthd'`. Tq = T unless `queryStart` places the queries; KV = H unless grouped (a divisor of H).
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): Tensor {
  for (const t of [q, k, v]) requireDtype('attention', t, 'f32');
  const layout = options.layout ?? 'bhtd';
  if (layout !== 'bhtd' && layout !== 'bthd')
    throw new Error(`attention: layout ${String(layout)} must be 'bhtd' or 'bthd'`);
  const [seqAxis, headAxis] = layout === 'bthd' ? [1, 2] : [2, 1];
  const sameButSeqAndHeads = q.shape.every((n, i) => i === seqAxis || i === headAxis || n === k.shape[i]);
  const grouped = q.shape[headAxis]! % k.shape[headAxis]! === 0;
  if (q.rank !== 4 || k.rank !== 4 || !sameButSeqAndHeads || !grouped || k.shape.join() !== v.shape.join()) {
    const dims = layout === 'bthd' ? 'batch, seq, heads, headDim' : 'batch, heads, seq, headDim';
    throw new Error(
      `attention: q, k, v must share one [${dims}] shape (layout '${layout}'), q may have fewer seq rows, k and v fewer heads (a divisor of q's), got ${fmt(q.shape)}, ${fmt(k.shape)}, ${fmt(v.shape)}`,
    );
  }
  const [batch, kvHeads, seq, headDim] = (
    layout === 'bthd' ? [k.shape[0], k.shape[2], k.shape[1], k.shape[3]] : k.shape
  ) as [number, number, number, number];
  const [heads, queries] = [q.shape[headAxis]!, q.shape[seqAxis]!];
  const causal = options.causal ?? true;
  const scale = options.scale ?? 1 / Math.sqrt(headDim);
  const impl =
    !options.impl || options.impl === 'auto'
      ? chooseAttentionImpl([batch, heads, seq, headDim], q.device.backend.adapter, queries)
      : options.impl;
  return tidy(() => {
    const lengths = i32PerSequence(q, 'lengths', batch, seq, options.lengths, seq);
    const queryStart = i32PerSequence(q, 'queryStart', batch, seq, options.queryStart, 0);
    if (impl === 'unfused') {
      // The matmuls need heads outside the rows: [B, T, H, d] ↔ [B, H, T, d] (the same permutation both ways).
      const toHeads = (t: Tensor) => (layout === 'bthd' ? permute(t, [0, 2, 1, 3]) : t);
      // Grouped: the G = H/KV query heads of key/value head j are heads j·G..j·G+G−1, contiguous in
      // [B, H, ·, ·], so [B, H, rows, cols] is [B, KV, G·rows, cols] without a copy, and each group's queries
      // meet their key/value head in one matmul (repeat_kv's result, k and v not repeated).
      const group = heads / kvHeads;
      const byKv = (t: Tensor) => (group === 1 ? t : reshape(t, [batch, kvHeads, -1, t.shape[3]!]));
      const byHead = (t: Tensor) => (group === 1 ? t : reshape(t, [batch, heads, queries, t.shape[3]!]));
      const scores = byHead(matmul(byKv(toHeads(q)), toHeads(k), { transB: true }).mul(scale));
      const probs = maskedSoftmax(scores, lengths, causal, queryStart);
      return toHeads(byHead(matmul(byKv(probs), toHeads(v))));
    }
    // `queries` and `kvHeads` only when they differ: the params (and the kernels' descriptions) stay as before.
    const p = {
      batch,
      heads,
      seq,
      headDim,
      causal,
      scale,
      layout,
      ...(queries !== seq && { queries }),
      ...(kvHeads !== heads && { kvHeads }),
    };
    return fusedAttention(q, k, v, lengths, queryStart, p);
  });
}

/** lengths or queryStart as an i32 [B] tensor: given as one, as numbers in 0..seq, or `fill` for each sequence. */
function i32PerSequence(
  like: Tensor,
  name: 'lengths' | 'queryStart',
  batch: number,
  seq: number,
  values: Tensor | readonly number[] | undefined,
  fill: number,
): Tensor {
  if (values === undefined) return like.device.full([batch], fill, 'i32');
  if (!Array.isArray(values) && !(values as Tensor).shape)
    throw new Error(`attention: ${name} must be a tensor or an array`);
  const t = Array.isArray(values)
    ? like.device.tensor(values as number[], [values.length], 'i32')
    : (values as Tensor);
  requireDtype(`attention (${name})`, t, 'i32');
  if (t.shape.join() !== `${batch}`)
    throw new Error(`attention: ${name} must be [${batch}], got ${fmt(t.shape)}`);
  if (Array.isArray(values) && values.some((l) => !(Number.isInteger(l) && l >= 0 && l <= seq))) {
    throw new Error(`attention: ${name} [${values}] must lie in 0..${seq}`);
  }
  return t;
}

/**
 * Softmax of scores [B, H, Tq, T] over the keys each query may see (query row i at key position
 * queryStart[b] + i, default 0); masked entries and padded rows are 0.
 */
export function maskedSoftmax(scores: Tensor, lengths: Tensor, causal: boolean, queryStart?: Tensor): Tensor {
  const [batch, heads, queries, seq] = scores.shape as [number, number, number, number];
  return tidy(() => {
    const starts = queryStart ?? scores.device.full([batch], 0, 'i32');
    const out = launch(
      'maskedSoftmax',
      'maskedSoftmax',
      { S: scores, lengths, queryStart: starts },
      { batch, heads, seq, causal, ...(queries !== seq && { queries }) },
      scores.shape,
    );
    return record(out, 'maskedSoftmax', [scores, lengths, starts]);
  });
}
