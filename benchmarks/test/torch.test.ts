import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
/**
 * @file The PyTorch peer: its GPT is our model (same losses as our float64 CPU twin from the same weights, at
 * the first step and after three AdamW steps), its matmul is checked like every peer's, it says which BLAS and
 * how many threads it ran on, and without torch the bench says why the peer was skipped.
 */
import { Device } from '@reprise/core';
import { CpuBackend } from '@reprise/kernels';
import { IGNORE_LABEL, makeConfig } from '@reprise/model';
import { afterEach, describe, expect, it } from 'vitest';
import { checkSamples } from '../src/matmul.ts';
import {
  TORCH_IMPL,
  TorchProcess,
  findTorch,
  noteTorchSkipped,
  resetTorchProbe,
  torchAdapter,
  torchMatmulJob,
  torchPeer,
  torchTrainingJob,
} from '../src/peers/torch.ts';
import { type LabeledBatch, labelerManifest, labelerTrainer, labelerWeights } from '../src/train-labeler.ts';
import {
  type Weights,
  checkLosses,
  gptManifest,
  initialWeights,
  randomBatch,
  repriseTrainer,
  trainerJob,
} from '../src/train.ts';

const found = findTorch();
const python = 'python' in found ? found.python : '';
const missing = 'skipped' in found ? found.skipped : '';
if (missing) console.warn(`torch.test.ts: the tests that run PyTorch are SKIPPED: ${missing}`);

/** A python on PATH that runs but cannot import torch (here: pyenv's), for the skip path; null if none. */
const pythonWithoutTorch = ['python3', 'python']
  .map((p) => spawnSync('sh', ['-c', `command -v ${p}`], { encoding: 'utf8' }).stdout.trim())
  .find(
    (p) => p && spawnSync(p, ['-c', 'import torch']).status === 1 && spawnSync(p, ['-c', '1']).status === 0,
  );

/**
 * Our initial weights with every matrix scaled to std ≈ 0.5: at GPT-2's 0.02 attention is nearly uniform and
 * the losses hardly depend on positions, masks or rotations, so a twin wrong in those would still pass.
 */
function sharpen(weights: Weights): Weights {
  return Object.fromEntries(
    Object.entries(weights).map(([name, w]) => [
      name,
      w.shape.length === 2 ? { ...w, data: w.data.map((v) => 25 * v) } : w,
    ]),
  );
}

const TINY = makeConfig({
  vocabSize: 64,
  dModel: 16,
  heads: 2,
  layers: 2,
  maxPositions: 8,
  positions: 'learned',
  dropout: 0,
});

describe('the PyTorch GPT twin', () => {
  it.skipIf(missing !== '')(
    'trains like our float64 CPU twin: first loss and after 3 AdamW steps to 1e-4 relative',
    async () => {
      const batch = randomBatch(2, 5, 8, TINY.vocabSize);
      const weights = sharpen(await initialWeights(TINY));
      const ours = repriseTrainer(new Device(new CpuBackend()), TINY, weights);
      const want: number[] = [];
      for (let i = 0; i < 4; i++) want.push(await ours.step(batch));
      ours.dispose();
      const peer = await TorchProcess.start(python, gptManifest(weights, batch, TINY));
      try {
        const got: number[] = [];
        for (let i = 0; i < 4; i++) got.push((await peer.request('step')).loss as number);
        // float32 against float64: ~1e-6 relative per step here; a wrong op, mask or update is far above 1e-4.
        for (const i of [0, 3])
          expect(Math.abs(got[i]! - want[i]!) / want[i]!, `loss ${i}`).toBeLessThan(1e-4);
        expect(got[3], 'training lowers the loss').toBeLessThan(got[0]!);
        const { peak_bytes } = await peer.request('peak');
        expect(peak_bytes, 'the peak covers at least the parameters').toBeGreaterThan(4 * 8000);
      } finally {
        peer.close();
      }
    },
  );

  it.skipIf(missing !== '')(
    'is checked by checkLosses like the other peers (a wrong twin fails)',
    async () => {
      const batch = randomBatch(2, 6, 8, TINY.vocabSize);
      const weights = await initialWeights(TINY);
      const expected = await trainerJob(repriseTrainer(new Device(new CpuBackend()), TINY), batch).outputs();
      const job = await torchTrainingJob(python, gptManifest(weights, batch, TINY));
      try {
        expect(checkLosses(await job.outputs(), expected)).toBeNull();
      } finally {
        job.dispose();
      }
      // Other weights (one LayerNorm gain doubled): a different model, which the check must refuse.
      const wrong = {
        ...weights,
        'norm.weight': { ...weights['norm.weight']!, data: weights['norm.weight']!.data.map((v) => 2 * v) },
      };
      const bad = await torchTrainingJob(python, gptManifest(wrong, batch, TINY));
      try {
        expect(checkLosses(await bad.outputs(), expected)).toMatch(/^first loss/);
      } finally {
        bad.dispose();
      }
    },
  );
});

describe('the PyTorch labeler twin', () => {
  const ROTARY = makeConfig({ vocabSize: 64, dModel: 16, heads: 2, layers: 2, maxPositions: 16, dropout: 0 });
  // Sentences of uneven lengths (padding, masked keys) and labels on some subwords only.
  const ids = [
    [5, 9, 11, 3, 40],
    [7, 2, 60],
    [1, 33, 8, 21],
  ];
  const labels = Int32Array.from({ length: 3 * 5 }, (_, i) =>
    i % 5 < ids[Math.floor(i / 5)]!.length && i % 3 !== 1 ? i % 4 : IGNORE_LABEL,
  );
  const batch: LabeledBatch = { ids, labels, numLabels: 4, tokens: 12 };

  for (const r of [0, 1]) {
    it.skipIf(missing !== '')(
      `SR r = ${r}, rotary positions: first loss and after 3 clipped AdamW steps to 1e-4 relative`,
      async () => {
        const weights = sharpen(await labelerWeights(4, r, ROTARY));
        const ours = labelerTrainer(new Device(new CpuBackend()), 4, r, ROTARY, weights);
        const want: number[] = [];
        for (let i = 0; i < 4; i++) want.push(await ours.step(batch));
        ours.dispose();
        const peer = await TorchProcess.start(python, await labelerManifest(batch, r, ROTARY, weights));
        try {
          const got: number[] = [];
          for (let i = 0; i < 4; i++) got.push((await peer.request('step')).loss as number);
          for (const i of [0, 3])
            expect(Math.abs(got[i]! - want[i]!) / want[i]!, `loss ${i}: ${got} vs ${want}`).toBeLessThan(
              1e-4,
            );
        } finally {
          peer.close();
        }
      },
    );
  }
});

describe('the PyTorch matmul', () => {
  it.skipIf(missing !== '')('computes the product the sampled float64 check accepts', async () => {
    const M = 33;
    const N = 17;
    const K = 65;
    const a = Float32Array.from({ length: M * K }, (_, i) => Math.sin(i));
    const b = Float32Array.from({ length: K * N }, (_, i) => Math.cos(i));
    const job = await torchMatmulJob(python, { kind: 'matmul', a, b, M, N, K });
    try {
      const [c] = await job.outputs();
      expect(c).toHaveLength(M * N);
      expect(checkSamples(c!, a, b, { M, N, K, label: '' })).toBeNull();
      await job.run();
    } finally {
      job.dispose();
    }
  });
});

describe('what the peer ran on', () => {
  it.skipIf(missing !== '')('names the BLAS library it loaded and its thread count', () => {
    if (!('env' in found)) return;
    const { env } = found;
    expect(env.blas).toMatch(/OpenBLAS|MKL|BLIS|ATLAS|reference BLAS/);
    expect(env.threads).toBeGreaterThanOrEqual(1);
    expect(env.threads).toBeLessThanOrEqual(availableParallelism());
    expect(torchAdapter(env)).toMatch(/^PyTorch \S+ CPU · .+ · \d+ threads?( · OMP_WAIT_POLICY=\w+)?$/);
  });

  it.skipIf(missing !== '')('tells the reference BLAS from OpenBLAS by the library mapped', () => {
    const classify = (paths: string[]) => {
      const code = `import sys, json; sys.path.insert(0, ${JSON.stringify(join(import.meta.dirname, '..', 'torch'))}); from env import classify; print(json.dumps(classify(json.loads(sys.argv[1]))))`;
      const r = spawnSync(python, ['-B', '-c', code, JSON.stringify(paths)], { encoding: 'utf8' });
      return JSON.parse(r.stdout)[0] as string | null;
    };
    const lib = '/usr/lib/x86_64-linux-gnu';
    expect(classify([`${lib}/libc.so.6`, `${lib}/blas/libblas.so.3`])).toBe('reference BLAS');
    expect(classify([`${lib}/openblas-pthread/libblas.so.3`, `${lib}/libgomp.so.1`])).toBe(
      'OpenBLAS pthread',
    );
    expect(classify([`${lib}/openblas-openmp/libopenblasp-r0.3.21.so`])).toBe('OpenBLAS OpenMP');
    expect(classify([`${lib}/libc.so.6`])).toBeNull();
  });

  it('says which BLAS ran, and when its own pool differs from the threads', () => {
    const env = { torch: '1.13.1', blas: 'OpenBLAS pthread', blasPath: null, blasThreads: 2, threads: 2 };
    expect(torchAdapter(env)).toBe('PyTorch 1.13.1 CPU · OpenBLAS pthread · 2 threads');
    expect(torchAdapter({ ...env, blas: 'reference BLAS', blasThreads: null, threads: 1 })).toBe(
      'PyTorch 1.13.1 CPU · reference BLAS · 1 thread',
    );
    expect(torchAdapter({ ...env, ompWaitPolicy: 'PASSIVE' })).toBe(
      'PyTorch 1.13.1 CPU · OpenBLAS pthread · 2 threads · OMP_WAIT_POLICY=PASSIVE',
    );
    expect(torchAdapter({ ...env, blasThreads: 1 })).toBe(
      'PyTorch 1.13.1 CPU · OpenBLAS pthread (1 threads) · 2 threads',
    );
  });
});

describe('without torch', () => {
  const saved = process.env.REPRISE_TORCH_PYTHON;
  afterEach(() => {
    if (saved === undefined) Reflect.deleteProperty(process.env, 'REPRISE_TORCH_PYTHON');
    else process.env.REPRISE_TORCH_PYTHON = saved;
    resetTorchProbe();
  });

  it('skips the peer and says which python was tried and why', () => {
    // No interpreter at that path: the reason must name it and the error.
    process.env.REPRISE_TORCH_PYTHON = '/nonexistent/python3';
    resetTorchProbe();
    const notes: string[] = [];
    noteTorchSkipped((n) => notes.push(n));
    expect(torchPeer()).toBeNull();
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatch(
      new RegExp(
        `^${TORCH_IMPL} skipped: no python could import torch \\(/nonexistent/python3: .*ENOENT.*\\); install it with scripts/setup.sh --with-torch`,
      ),
    );
  });

  it.skipIf(!pythonWithoutTorch)('names the import error of a python that lacks torch', () => {
    process.env.REPRISE_TORCH_PYTHON = pythonWithoutTorch!;
    resetTorchProbe();
    const found = findTorch();
    expect('skipped' in found && found.skipped).toMatch(/No module named 'torch'/);
  });
});
