/**
 * @file `bench lora` (run only when named: minutes per model on llvmpipe): LoRA fine-tuning of real-sized
 * pretrained-decoder shapes, the paper's setting (issue 16): a GPT-2-small-shaped model (124M parameters:
 * learned positions, LayerNorm, tanh GELU, biases, tied head) and a SmolLM-135M-shaped Llama (RMSNorm, SwiGLU,
 * rotary, 9 query heads sharing 3 key/value heads, no biases, tied head), both with rank-16 adapters on q, k, v
 * and o (α = 16), a token-classification head, SR r = 1, one batch of real Brown sentences. Tokens/s counts the
 * sentences' subwords (not the repeated copies); peak MiB is the GPU buffers live above those before the model.
 *
 * Correctness first, as every suite: the same step on a small model of each architecture (2 layers, d 64) is
 * checked against our float64 CPU twin (first loss and the loss after one step). The large models' step is too
 * slow for the twin (hours in float64 JS), so their check is weaker and said so: the first loss is finite and
 * within 1 nat of ln(labels) (a fresh head over normalized features starts near the uniform guess).
 * Weights are random (nothing is downloaded): the step's cost does not depend on their values.
 */
import { Device } from '@reprise/core';
import { CpuBackend, type HostArray, type WebGpuBackend } from '@reprise/kernels';
import {
  LoraAdapters,
  SequenceLabeler,
  Transformer,
  type TransformerConfig,
  attachLora,
  makeConfig,
  makeLoraConfig,
  parameterCount,
} from '@reprise/model';
import { type ImplCase, measureJob } from './job.ts';
import type { Measurement, SuiteOptions } from './report.ts';
import {
  OPTIMIZER as LABELER_OPTIMIZER,
  type LabeledBatch,
  brownBatch,
  labelerStepTrainer,
} from './train-labeler.ts';
import { type Trainer, checkLosses, trainerJob } from './train.ts';

const GPT2_SMALL = makeConfig({
  vocabSize: 50257,
  dModel: 768,
  heads: 12,
  layers: 12,
  dFF: 3072,
  maxPositions: 1024,
  positions: 'learned',
  tieEmbeddings: true,
  dropout: 0,
});

/** SmolLM-135M's config.json in the project's terms. */
const LLAMA_135M = makeConfig({
  vocabSize: 49152,
  dModel: 576,
  heads: 9,
  kvHeads: 3,
  layers: 30,
  dFF: 1536,
  maxPositions: 2048,
  positions: 'rotary',
  ropeTheta: 10000,
  norm: 'rms',
  normEps: 1e-5,
  mlp: 'swiglu',
  qkvBias: false,
  attnOutBias: false,
  mlpBias: false,
  tieEmbeddings: true,
  dropout: 0,
});

/** The same architecture, small enough for the float64 twin. */
const small = (cfg: TransformerConfig, heads: number, kvHeads: number) =>
  makeConfig({ ...cfg, vocabSize: 4000, dModel: 64, heads, kvHeads, layers: 2, dFF: 128, maxPositions: 256 });

const CASES = [
  { name: 'GPT-2 small (124M)', big: GPT2_SMALL, check: small(GPT2_SMALL, 4, 4) },
  { name: 'Llama, SmolLM-135M shape', big: LLAMA_135M, check: small(LLAMA_135M, 8, 2) },
];

const R = 1;
const SEED = 5;
/** The paper's recipe (reprise finetune --lora 16), without dropout so that the twin check can be exact. */
const LORA = makeLoraConfig({ rank: 16, alpha: 16, dropout: 0 });
/** The fine-tuning defaults (`reprise finetune`: lr 1e-3), otherwise as the demo's labeler bench. */
const OPTIMIZER = { ...LABELER_OPTIMIZER, lr: 1e-3 };

/** A labeler with LoRA adapters on a freshly initialized backbone: the training step of `finetune --lora`. */
function loraTrainer(dev: Device, cfg: TransformerConfig, numLabels: number): Trainer<LabeledBatch> {
  const liveBefore = dev.backend.memory().liveBytes;
  const backbone = Transformer.create(dev, cfg, SEED);
  attachLora(backbone, LoraAdapters.create(dev, cfg, LORA, SEED + 1));
  const labeler = new SequenceLabeler(backbone, { numLabels, r: R, headDropout: 0, seed: SEED });
  return labelerStepTrainer(dev, liveBefore, labeler, OPTIMIZER);
}

/** The large models' check: a finite first loss near ln(labels). */
function nearUniform(numLabels: number) {
  return ([losses]: HostArray[]): string | null => {
    const first = losses?.[0];
    const uniform = Math.log(numLabels);
    if (first === undefined || !Number.isFinite(first) || Math.abs(first - uniform) > 1)
      return `first loss ${first}, expected finite and within 1 of ln(${numLabels}) = ${uniform.toFixed(3)}`;
    return null;
  };
}

export async function benchLora(gpu: WebGpuBackend, options: SuiteOptions): Promise<Measurement[]> {
  const dev = new Device(gpu);
  const size = options.mode === 'quick' ? 4 : 8;
  const batch = brownBatch(size);
  const results: Measurement[] = [];
  options.note?.(
    `lora: rank ${LORA.rank}, α ${LORA.alpha} on ${LORA.targets.join(', ')}; SR r = ${R}; B ${size} Brown sentences (${batch.tokens} subwords); random weights; the 124M/135M steps are checked only for a finite loss near ln(labels), their 2-layer twins against the float64 CPU twin`,
  );
  for (const c of CASES) {
    const adapter = gpu.adapter.description;
    // The twin check of the small model of this architecture.
    const twin = trainerJob(loraTrainer(new Device(new CpuBackend()), c.check, batch.numLabels), batch);
    const expected = await twin.outputs();
    twin.dispose();
    const checks: { label: string; cfg: TransformerConfig; check: (o: HostArray[]) => string | null }[] = [
      { label: `${c.name}, 2-layer d 64 twin check`, cfg: c.check, check: (o) => checkLosses(o, expected) },
      { label: c.name, cfg: c.big, check: nearUniform(batch.numLabels) },
    ];
    for (const { label, cfg, check } of checks) {
      const impl: ImplCase = {
        impl: 'reprise-webgpu',
        adapter,
        build: () => trainerJob(loraTrainer(dev, cfg, batch.numLabels), batch),
      };
      const params = parameterCount(cfg);
      const m = await measureJob(
        {
          bench: 'lora step',
          shape: [size, cfg.layers, cfg.dModel],
          label: `${label}: ${(params / 1e6).toFixed(1)}M parameters, LoRA r ${LORA.rank}, SR r = ${R}, B ${size}`,
          impl: impl.impl,
          adapter: impl.adapter,
        },
        impl.build,
        check,
        {},
      );
      if (m.median_ms) m.tokens_per_s = (batch.tokens * 1000) / m.median_ms;
      results.push(m);
      options.progress?.(m);
    }
  }
  return results;
}
