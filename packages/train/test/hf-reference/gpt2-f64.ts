/**
 * @file GPT-2's forward pass (GPT2LMHeadModel, tied head) in plain float64 loops over HF-named weights: a second,
 * independent implementation to check reference.py's against, written from the same modeling_gpt2.py (Conv1D
 * weights [in, out]; c_attn's output is q | k | v; scores / sqrt(head dim), causal; gelu_new; pre-LayerNorm).
 */
import type { HostTensor } from '../../src/io/index.ts';

export interface Gpt2Sizes {
  d: number;
  heads: number;
  layers: number;
  eps: number;
}

/** Logits [T, vocab] of one sequence. */
export function gpt2LogitsF64(w: Record<string, HostTensor>, s: Gpt2Sizes, ids: number[]): Float64Array[] {
  const p = 'transformer.';
  const get = (name: string) => {
    const t = w[p + name];
    if (!t) throw new Error(`gpt2LogitsF64: no tensor '${p}${name}'`);
    return t.data;
  };
  const { d, heads } = s;
  const hd = d / heads;
  const T = ids.length;
  const layerNorm = (x: Float64Array, g: ArrayLike<number>, b: ArrayLike<number>) => {
    let mean = 0;
    for (const v of x) mean += v / d;
    let variance = 0;
    for (const v of x) variance += (v - mean) ** 2 / d;
    return x.map((v, i) => ((v - mean) / Math.sqrt(variance + s.eps)) * g[i] + b[i]);
  };
  // y = x · W + b, W stored [in, out] row-major.
  const conv1d = (x: Float64Array, name: string) => {
    const W = get(`${name}.weight`);
    const b = get(`${name}.bias`);
    const out = b.length;
    const y = Float64Array.from(b);
    for (let i = 0; i < x.length; i++) for (let j = 0; j < out; j++) y[j] += x[i] * W[i * out + j];
    return y;
  };
  const gelu = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));

  const wte = get('wte.weight');
  const wpe = get('wpe.weight');
  let h = ids.map((id, t) => Float64Array.from({ length: d }, (_, i) => wte[id * d + i] + wpe[t * d + i]));
  for (let l = 0; l < s.layers; l++) {
    const m = `h.${l}.`;
    const qkv = h.map((x) =>
      conv1d(layerNorm(x, get(`${m}ln_1.weight`), get(`${m}ln_1.bias`)), `${m}attn.c_attn`),
    );
    const att = h.map(() => new Float64Array(d));
    for (let head = 0; head < heads; head++) {
      for (let t = 0; t < T; t++) {
        const scores = Array.from({ length: t + 1 }, (_, u) => {
          let dot = 0;
          for (let i = 0; i < hd; i++) dot += qkv[t][head * hd + i] * qkv[u][d + head * hd + i];
          return dot / Math.sqrt(hd);
        });
        const top = Math.max(...scores);
        const e = scores.map((x) => Math.exp(x - top));
        const sum = e.reduce((a, b) => a + b, 0);
        for (let u = 0; u <= t; u++)
          for (let i = 0; i < hd; i++) att[t][head * hd + i] += (e[u] / sum) * qkv[u][2 * d + head * hd + i];
      }
    }
    h = h.map((x, t) => {
      const o = conv1d(att[t], `${m}attn.c_proj`);
      return x.map((v, i) => v + o[i]);
    });
    h = h.map((x) => {
      const f = conv1d(layerNorm(x, get(`${m}ln_2.weight`), get(`${m}ln_2.bias`)), `${m}mlp.c_fc`).map(gelu);
      const y = conv1d(f, `${m}mlp.c_proj`);
      return x.map((v, i) => v + y[i]);
    });
  }
  const vocab = wte.length / d;
  return h.map((x) => {
    const y = layerNorm(x, get('ln_f.weight'), get('ln_f.bias'));
    return Float64Array.from({ length: vocab }, (_, v) => {
      let dot = 0;
      for (let i = 0; i < d; i++) dot += y[i] * wte[v * d + i];
      return dot;
    });
  });
}
