/**
 * @file The peers' versions of our fused ops, composed from tfjs ops the way a tfjs user writes them (tfjs has
 * no fused attention): attention, LayerNorm and softmax cross-entropy, forward or forward + backward
 * (`tf.grads`), each read back to the host.
 */
import type { Job } from '../job.ts';
import type { Tf } from './tfjs.ts';

export type TfTensor = ReturnType<Tf['tensor']>;

/** A job computing `outputs(inputs)` in tfjs, freeing every intermediate. */
function tfJob(tf: Tf, inputs: TfTensor[], compute: (...xs: TfTensor[]) => TfTensor[]): Job {
  const once = async () => {
    const outs = tf.tidy(() => compute(...inputs));
    try {
      return (await Promise.all(outs.map((t) => t.data()))) as Float32Array[];
    } finally {
      tf.dispose(outs);
    }
  };
  return { run: async () => void (await once()), outputs: once, dispose: () => tf.dispose(inputs) };
}

export interface AttentionInputs {
  /** q, k, v, dO as [B·H, T, d]. */
  data: Float32Array[];
  shape: [number, number, number];
  causal: boolean;
}

/** softmax(q·kᵀ/√d + mask)·v; with `backward`, the gradients dq, dk, dv of ⟨out, dO⟩. */
export function tfjsAttention(tf: Tf, { data, shape, causal }: AttentionInputs, backward: boolean): Job {
  const [, seq, dim] = shape;
  const [q, k, v, dO] = data.map((d) => tf.tensor3d(d, shape));
  const bias = tf.tensor2d(
    Float32Array.from({ length: seq * seq }, (_, i) => (causal && i % seq > Math.floor(i / seq) ? -1e9 : 0)),
    [seq, seq],
  );
  const forward = (q: TfTensor, k: TfTensor, v: TfTensor) =>
    tf.matMul(tf.softmax(tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(dim)), bias)), v);
  // The mask goes in the inputs so that the job frees it with them.
  return tfJob(tf, [q!, k!, v!, dO!, bias], (q, k, v, dO) =>
    backward
      ? tf.grads((q, k, v) => tf.sum(tf.mul(forward(q!, k!, v!), dO!)))([q!, k!, v!])
      : [forward(q!, k!, v!)],
  );
}

export interface RowsInputs {
  rows: number;
  cols: number;
  /** LayerNorm: x, weight, bias, dY. Cross-entropy: logits. */
  data: Float32Array[];
  /** Cross-entropy: the class of each row. */
  targets?: Int32Array;
}

/** LayerNorm over the last axis with eps 1e-5, as ours, from tfjs ops. */
export function tfLayerNorm(tf: Tf, x: TfTensor, w: TfTensor, b: TfTensor): TfTensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5))), w), b);
}

/** LayerNorm (eps 1e-5) over the last axis; with `backward`, dx, dweight, dbias of ⟨y, dY⟩. */
export function tfjsLayerNorm(tf: Tf, { rows, cols, data }: RowsInputs, backward: boolean): Job {
  const [x, w, b, dY] = [
    tf.tensor2d(data[0]!, [rows, cols]),
    tf.tensor1d(data[1]!),
    tf.tensor1d(data[2]!),
    tf.tensor2d(data[3]!, [rows, cols]),
  ];
  const forward = (x: TfTensor, w: TfTensor, b: TfTensor) => tfLayerNorm(tf, x, w, b);
  return tfJob(tf, [x, w, b, dY], (x, w, b, dY) =>
    backward
      ? tf.grads((x, w, b) => tf.sum(tf.mul(forward(x!, w!, b!), dY!)))([x!, w!, b!])
      : [forward(x!, w!, b!)],
  );
}

/** Mean softmax cross-entropy of the rows; with `backward`, d loss / d logits instead. */
export function tfjsCrossEntropy(tf: Tf, { rows, cols, data, targets }: RowsInputs, backward: boolean): Job {
  const logits = tf.tensor2d(data[0]!, [rows, cols]);
  const oneHot = tf.oneHot(tf.tensor1d(targets!, 'int32'), cols);
  const loss = (z: TfTensor) => tf.losses.softmaxCrossEntropy(oneHot, z) as TfTensor;
  return tfJob(tf, [logits, oneHot], (z) => (backward ? tf.grads((z) => loss(z!))([z!]) : [loss(z!)]));
}
