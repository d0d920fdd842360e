/**
 * `bench profile`'s measurement on a tiny GPT step (fast): phase counters add up to the step's, the recorded
 * trace holds exactly the dispatches the step ran (recording adds none), every one is replayed and tagged with
 * its phase, and the aggregation and markdown are consistent.
 */
import { AdamW, Device, Rng } from '@reprise/core';
import { type DeviceChoice, WebGpuBackend } from '@reprise/kernels';
import { Transformer, makeConfig } from '@reprise/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PHASES, aggregate, kernelKey, kernelTimes, medianPhases, runStep } from '../src/profile-measure.ts';
import { renderMarkdown } from '../src/profile-render.ts';
import type { StepCase } from '../src/profile-steps.ts';

const TINY = makeConfig({
  vocabSize: 64,
  dModel: 16,
  heads: 2,
  layers: 1,
  maxPositions: 8,
  positions: 'learned',
  dropout: 0,
});

function tinyCase(dev: Device): StepCase {
  const model = Transformer.create(dev, TINY, 1);
  const optimizer = new AdamW(Object.values(model.params), { lr: 1e-3, noDecay: model.noDecay() });
  const rng = new Rng(3);
  const ids = () => Int32Array.from({ length: 16 }, () => rng.int(TINY.vocabSize));
  const [tokens, targets] = [ids(), ids()];
  return {
    name: 'tiny',
    label: 'tiny GPT',
    tokens: 16,
    forward: () => {
      optimizer.zeroGrad();
      return model.lmLoss(dev.tensor(tokens, [2, 8], 'i32'), dev.tensor(targets, [2, 8], 'i32'), {
        lengths: dev.full([2], 8, 'i32'),
        positions: dev.tensor(
          Int32Array.from({ length: 16 }, (_, i) => i % 8),
          [2, 8],
          'i32',
        ),
      });
    },
    optimizer,
    dispose: () => {
      optimizer.dispose();
      model.dispose();
    },
  };
}

let gpu: WebGpuBackend;
let c: StepCase;
beforeAll(async () => {
  gpu = await WebGpuBackend.create(
    (process.env.REPRISE_TEST_DEVICE ?? 'auto') as Exclude<DeviceChoice, 'cpu'>,
  );
  c = tinyCase(new Device(gpu));
  await runStep(gpu, c, false); // compiles the pipelines
});
afterAll(() => {
  c?.dispose();
  gpu?.destroy();
});

describe('bench profile', () => {
  it('counts the same dispatches per phase with and without drains, and sums them into the step row', async () => {
    const plain = await runStep(gpu, c, false);
    const drained = await runStep(gpu, c, true);
    expect(plain.map((p) => p.phase)).toEqual([...PHASES]);
    expect(drained.map((p) => p.dispatches)).toEqual(plain.map((p) => p.dispatches));
    expect(plain[0]!.dispatches).toBeGreaterThan(10); // forward
    expect(plain[2]!.dispatches).toBeGreaterThan(0); // optimizer
    expect(plain[3]!.dispatches).toBe(0); // readback
    const [row] = medianPhases([plain]).filter((p) => p.phase === 'step');
    expect(row!.dispatches).toBe(plain.reduce((a, p) => a + p.dispatches, 0));
    expect(row!.wallMs).toBeCloseTo(
      plain.reduce((a, p) => a + p.wallMs, 0),
      6,
    );
  });

  it('records exactly the dispatches the step runs, and replays each one, tagged with its phase', async () => {
    const plain = await runStep(gpu, c, false);
    const before = gpu.counters.dispatches;
    const { times, tracedStep, roundTripMs } = await kernelTimes(gpu, c, 2);
    const ran = tracedStep.reduce((a, p) => a + p.dispatches, 0);
    expect(ran).toBe(plain.reduce((a, p) => a + p.dispatches, 0)); // recording adds no dispatches
    expect(gpu.counters.dispatches - before).toBe(ran); // replays go around the batcher
    expect(times).toHaveLength(ran);
    for (const phase of ['forward', 'backward', 'optimizer'])
      expect(times.filter((t) => t.dispatch.phase === phase)).toHaveLength(
        tracedStep.find((p) => p.phase === phase)!.dispatches,
      );
    expect(roundTripMs).toBeGreaterThan(0);
    expect(times.every((t) => t.ms >= 0)).toBe(true);
    const rows = aggregate(times, kernelKey);
    expect(rows.reduce((a, r) => a + r.calls, 0)).toBe(ran);
    const mm = rows.find((r) => r.key === 'matmul')!;
    expect(mm.flops).toBeGreaterThan(0);
    expect(rows.find((r) => r.key === 'adamw')?.calls).toBe(Object.keys(c.optimizer.params).length);
    // The model still trains after the replay (in-place kernels were restored, not applied `reps` times).
    const after = await runStep(gpu, c, false);
    expect(after.map((p) => p.dispatches)).toEqual(plain.map((p) => p.dispatches));
  });

  it('writes markdown tables with one cell per column, pipes escaped', () => {
    const md = renderMarkdown([
      { heading: 'h', lines: ['a line'], tables: [{ title: 't', head: ['x', 'y'], rows: [['a|b', '1']] }] },
    ]);
    expect(md).toContain('| x | y |');
    expect(md).toContain('| --- | --- |');
    expect(md).toContain('| a\\|b | 1 |');
  });
});
