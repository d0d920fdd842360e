/**
 * @file `bench model`: the cost of sequence repetition and the saving of early exit and of the last-copy-only
 * last layer, on a small labeling model: forward and forward+backward time per sentence for r ∈ {0,1,2,4,8} and
 * ℓ ∈ {¼,½,¾,1}·L, all in one run. Each configuration's logits are checked against the CPU reference first.
 */
import { Device, tidy } from '@reprise/core';
import { CpuBackend, type WebGpuBackend } from '@reprise/kernels';
import { SequenceLabeler, Transformer, makeConfig } from '@reprise/model';
import { twinCheck } from './job.ts';
import type { Measurement, SuiteOptions } from './report.ts';
import { timeIt } from './timing.ts';

const CONFIG = makeConfig({
  vocabSize: 2000,
  dModel: 64,
  heads: 4,
  layers: 4,
  maxPositions: 512,
  dropout: 0,
});
const BATCH = 16;
const WORDS = 24;

interface Case {
  r: number;
  layer: number;
  lastCopyOnly: boolean;
}

function cases(mode: SuiteOptions['mode']): Case[] {
  const L = CONFIG.layers;
  const rs = mode === 'quick' ? [0, 1, 4] : [0, 1, 2, 4, 8];
  const layers = mode === 'quick' ? [L / 2, L] : [L / 4, L / 2, (3 * L) / 4, L];
  const out: Case[] = [];
  for (const r of rs) for (const layer of layers) out.push({ r, layer, lastCopyOnly: true });
  // The saving of computing only the last copy in the last layer, at full depth.
  for (const r of rs.filter((r) => r > 0)) out.push({ r, layer: L, lastCopyOnly: false });
  return out;
}

function build(dev: Device, c: Case): SequenceLabeler {
  const backbone = Transformer.create(dev, CONFIG, 1);
  return new SequenceLabeler(backbone, {
    numLabels: 12,
    r: c.r,
    layer: c.layer,
    lastCopyOnly: c.lastCopyOnly,
  });
}

function sentences(): number[][] {
  let s = 12345;
  const next = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) % CONFIG.vocabSize;
  return Array.from({ length: BATCH }, () => Array.from({ length: WORDS }, next));
}

async function logits(dev: Device, c: Case): Promise<Float32Array | Float64Array> {
  const l = build(dev, c);
  const out = l.forward(l.layout(sentences()));
  const data = (await out.hostData()) as Float32Array;
  out.dispose();
  for (const t of Object.values(l.params())) t.dispose();
  return data;
}

/** f32 logits through four blocks against the float64 twin: a few f32 ulps per op, compounded. */
export const MODEL_TOL = { rtol: 2e-3, atol: 2e-4 };

export async function benchModel(gpu: WebGpuBackend, options: SuiteOptions): Promise<Measurement[]> {
  const dev = new Device(gpu);
  const cpu = new Device(new CpuBackend());
  const results: Measurement[] = [];
  const data = sentences();
  for (const c of cases(options.mode)) {
    const label = `r=${c.r} ℓ=${c.layer}/${CONFIG.layers}${c.lastCopyOnly ? '' : ' full last layer'}`;
    // Only the last layer differs between the two last-layer variants: one check against the CPU covers both.
    const got = await logits(dev, c);
    const problem = twinCheck([await logits(cpu, c)], MODEL_TOL)([got]);
    const l = build(dev, c);
    const layout = l.layout(data);
    const labels = Int32Array.from({ length: BATCH * WORDS }, (_, k) => k % 12);
    for (const backward of [false, true]) {
      const base = {
        bench: backward ? 'model fwd+bwd' : 'model fwd',
        shape: [BATCH, WORDS, c.r, c.layer],
        label,
        impl: 'reprise-webgpu',
        adapter: gpu.adapter.description,
      };
      if (problem) {
        results.push({ ...base, error: `wrong result: ${problem}` });
        continue;
      }
      const timing = await timeIt(
        async () => {
          tidy(() => {
            if (backward) l.loss(layout, labels, false).backward();
            else l.forward(layout);
          });
          await gpu.sync();
        },
        { warmup: 1, samples: options.mode === 'full' ? 7 : 5 },
      );
      results.push({ ...base, median_ms: timing.medianMs, ms_per_sentence: timing.medianMs / BATCH });
      options.progress?.(results.at(-1)!);
    }
    for (const t of Object.values(l.params())) t.dispose();
  }
  summarize(results, options);
  return results;
}

/** Cost of r relative to r = 0, of each exit layer relative to full depth, and the last-copy-only saving. */
function summarize(results: Measurement[], options: SuiteOptions): void {
  const L = CONFIG.layers;
  const find = (bench: string, r: number, layer: number, last = true) =>
    results.find(
      (m) =>
        m.bench === bench &&
        m.shape[2] === r &&
        m.shape[3] === layer &&
        m.label!.includes('full last layer') !== last &&
        m.median_ms,
    )?.median_ms;
  for (const bench of ['model fwd', 'model fwd+bwd']) {
    const r0 = find(bench, 0, L);
    const rs = [...new Set(results.map((m) => m.shape[2]!))];
    if (r0) {
      const costs = rs.map((r) => `r=${r} ${(find(bench, r, L)! / r0).toFixed(2)}×`).join(', ');
      options.note?.(`${bench}: time vs r = 0 at full depth: ${costs}`);
    }
    for (const r of rs) {
      const full = find(bench, r, L);
      const exits = [...new Set(results.map((m) => m.shape[3]!))].filter((l) => l < L);
      const parts = exits.map((l) => `ℓ=${l} ${(full! / find(bench, r, l)!).toFixed(2)}×`).join(', ');
      if (full && parts) options.note?.(`${bench} r=${r}: early-exit speed-up vs ℓ=${L}: ${parts}`);
      const slow = find(bench, r, L, false);
      if (full && slow)
        options.note?.(
          `${bench} r=${r}: last-copy-only last layer ${(slow / full).toFixed(2)}× faster than full`,
        );
    }
  }
}
