/**
 * @file The end-to-end peer: the same GPT as our `Transformer` with learned positions (pre-LN blocks, separate
 * q/k/v projections with biases, tanh-GELU MLP, final LayerNorm, LM head tied to the token embedding), written
 * with tfjs ops and trained with Adam + decoupled weight decay (AdamW, as ours). It starts from our model's
 * weights, so both compute the same losses: the suite checks that before timing either.
 */
import type { TransformerConfig } from '@reprise/model';
import { type TfTensor, tfLayerNorm } from './tfjs-ops.ts';
import type { Tf } from './tfjs.ts';

export interface AdamWSettings {
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
}

type Variable = ReturnType<Tf['variable']>;

export class TfjsGpt {
  readonly #tf: Tf;
  readonly #cfg: TransformerConfig;
  readonly #vars: Record<string, Variable>;
  readonly #decayed: Variable[];
  readonly #optimizer: ReturnType<Tf['train']['adam']>;
  readonly #settings: AdamWSettings;
  readonly #embed: (table: TfTensor, ids: TfTensor) => TfTensor;

  /** `weights` by our parameter names; `noDecay` says which of them weight decay skips (ours: noDecayNames). */
  constructor(
    tf: Tf,
    cfg: TransformerConfig,
    weights: Record<string, { data: Float32Array; shape: number[] }>,
    noDecay: (name: string) => boolean,
    settings: AdamWSettings,
  ) {
    if (cfg.positions !== 'learned' || !cfg.tieEmbeddings || cfg.dropout !== 0)
      throw new Error('TfjsGpt mirrors learned positions, a tied head and no dropout only');
    this.#tf = tf;
    this.#cfg = cfg;
    this.#settings = settings;
    this.#vars = Object.fromEntries(
      Object.entries(weights).map(([name, w]) => [name, tf.variable(tf.tensor(w.data, w.shape), true, name)]),
    );
    this.#decayed = Object.entries(this.#vars)
      .filter(([name]) => !noDecay(name))
      .map(([, v]) => v);
    this.#optimizer = tf.train.adam(settings.lr, settings.betas[0], settings.betas[1], settings.eps);
    // tf.gather's own gradient needs UnsortedSegmentSum, which the wasm backend lacks (docs/runtime.md):
    // gather forward, scatterND (which sums repeated ids) backward.
    this.#embed = tf.customGrad((table, ids, save) => {
      (save as unknown as (saved: TfTensor[]) => void)([ids as TfTensor]);
      return {
        value: tf.gather(table as TfTensor, ids as TfTensor),
        gradFunc: (dy, saved) => {
          const [idsSaved] = saved as TfTensor[];
          const shape = (table as TfTensor).shape as number[];
          return [tf.scatterND(tf.expandDims(idsSaved!, -1), dy as TfTensor, shape), tf.zerosLike(idsSaved!)];
        },
      };
    }) as (table: TfTensor, ids: TfTensor) => TfTensor;
  }

  /** Mean next-token cross-entropy of tokens → targets, both [batch·seq] row-major. */
  loss(tokens: Int32Array, targets: Int32Array, batch: number): TfTensor {
    const tf = this.#tf;
    const { dModel: d, heads, layers, vocabSize } = this.#cfg;
    const seq = tokens.length / batch;
    const dh = d / heads;
    const v = this.#vars;
    return tf.tidy(() => {
      const ids = tf.tensor1d(tokens, 'int32');
      const positions = tf.slice(v['embed.positions']!, [0, 0], [seq, d]);
      let x = tf.add(tf.reshape(this.#embed(v['embed.tokens']!, ids), [batch, seq, d]), positions);
      const causal = tf.tensor2d(
        Float32Array.from({ length: seq * seq }, (_, i) => (i % seq > Math.floor(i / seq) ? -1e9 : 0)),
        [seq, seq],
      );
      const linear = (t: TfTensor, name: string) =>
        tf.add(tf.matMul(tf.reshape(t, [-1, t.shape.at(-1)!]), v[`${name}.weight`]!), v[`${name}.bias`]!);
      const heads4 = (t: TfTensor) => tf.transpose(tf.reshape(t, [batch, seq, heads, dh]), [0, 2, 1, 3]);
      for (let l = 0; l < layers; l++) {
        const b = `blocks.${l}`;
        const h = tfLayerNorm(tf, x, v[`${b}.ln1.weight`]!, v[`${b}.ln1.bias`]!);
        const [q, k, vv] = ['q', 'k', 'v'].map((n) => heads4(linear(h, `${b}.attn.${n}`)));
        const scores = tf.add(tf.mul(tf.matMul(q!, k!, false, true), 1 / Math.sqrt(dh)), causal);
        const attended = tf.reshape(tf.transpose(tf.matMul(tf.softmax(scores), vv!), [0, 2, 1, 3]), [-1, d]);
        x = tf.add(x, tf.reshape(linear(attended, `${b}.attn.proj`), [batch, seq, d]));
        const h2 = tfLayerNorm(tf, x, v[`${b}.ln2.weight`]!, v[`${b}.ln2.bias`]!);
        const fc = linear(h2, `${b}.mlp.fc`);
        x = tf.add(x, tf.reshape(linear(gelu(tf, fc), `${b}.mlp.proj`), [batch, seq, d]));
      }
      const hFinal = tf.reshape(tfLayerNorm(tf, x, v['norm.weight']!, v['norm.bias']!), [-1, d]);
      const logits = tf.matMul(hFinal, v['embed.tokens']!, false, true);
      const oneHot = tf.oneHot(tf.tensor1d(targets, 'int32'), vocabSize);
      return tf.losses.softmaxCrossEntropy(oneHot, logits) as TfTensor;
    });
  }

  /** One AdamW step on the batch; resolves with the loss before the update (read back, as a trainer does). */
  async step(tokens: Int32Array, targets: Int32Array, batch: number): Promise<number> {
    const tf = this.#tf;
    const { value, grads } = tf.variableGrads(() => this.loss(tokens, targets, batch) as never);
    tf.tidy(() => {
      const keep = 1 - this.#settings.lr * this.#settings.weightDecay;
      for (const w of this.#decayed) w.assign(tf.mul(w, keep));
    });
    this.#optimizer.applyGradients(grads as Record<string, Variable>);
    tf.dispose(grads);
    const loss = (await value.data())[0]!;
    value.dispose();
    return loss;
  }

  dispose(): void {
    this.#tf.dispose(Object.values(this.#vars));
    this.#optimizer.dispose();
  }
}

/** GELU, tanh form (as our kernels). */
function gelu(tf: Tf, x: TfTensor): TfTensor {
  const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
}
