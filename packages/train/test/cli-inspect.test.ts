/**
 * `reprise inspect` end to end on tiny checkpoints written here: tables and --json for a decoder (induction
 * score at chance for a fresh model, attention per layer and head), the plain skip note for an encoder, and a
 * clear error for a directory that is not a backbone.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Device } from '@reprise/core';
import { Transformer, makeConfig } from '@reprise/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pretrainingSentences } from '../src/data/index.ts';
import { trainBpe } from '../src/tokenizer/index.ts';
import { saveBackbone } from '../src/training/backbone-checkpoint.ts';
import { reprise } from './cli-helpers.ts';

const deviceChoice = process.env.REPRISE_TEST_DEVICE ?? 'auto';
const dir = mkdtempSync(join(tmpdir(), 'reprise-inspect-'));
const small = ['--length', '8', '--count', '4', '--sentences', '6', '--device', deviceChoice];

let device: Device;
beforeAll(async () => {
  // The fixtures are written from the CPU backend: the command reads them on the adapter under test.
  device = await Device.create({ device: 'cpu' });
  const tokenizer = trainBpe(pretrainingSentences().slice(0, 200), { vocabSize: 320 });
  for (const kind of ['decoder', 'encoder'] as const) {
    const model = makeConfig({
      vocabSize: tokenizer.vocabSize,
      dModel: 16,
      heads: 2,
      layers: 2,
      maxPositions: 64,
      kind,
    });
    await saveBackbone(join(dir, kind), Transformer.create(device, model, 0), tokenizer, {
      kind: 'reprise-backbone',
      model,
      objective: kind === 'decoder' ? 'clm' : 'mlm',
      training: {},
    });
  }
});
afterAll(() => device?.destroy());

describe('reprise inspect', () => {
  it('prints the induction score and the attention tables of a decoder', async () => {
    const r = await reprise('inspect', '--model', join(dir, 'decoder'), ...small);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/decoder \(clm\), 2 layers × 2 heads/);
    expect(r.out).toMatch(
      /4 sequences of 8 random tokens written twice \(seed 0, drawn from 314 non-special/,
    );
    for (const row of ['first half', 'second half', 'chance', 'layer 1', 'layer 2', 'head 2'])
      expect(r.out).toContain(row);
    expect(r.out).toMatch(
      /SR r = 1, positions continuing across copies, causal mask: 6 brown\/pos-universal dev/,
    );
    expect(r.out).toMatch(/on the twin \+ 1 .* mean over \d+ tokens/);
    expect(r.out).toMatch(/most induction-like head: layer \d, head \d/);
  });

  it('--json: the same numbers as one object', async () => {
    const r = await reprise(
      'inspect',
      '--model',
      join(dir, 'decoder'),
      ...small,
      '--json',
      '--positions',
      'reset',
    );
    expect(r.code, r.err).toBe(0);
    const o = JSON.parse(r.out);
    expect(o.backbone).toMatchObject({ kind: 'decoder', layers: 2, heads: 2, vocabSize: 320 });
    expect(o.induction.second.targets).toBe(4 * 7);
    // A fresh model knows nothing: both halves at ln V.
    expect(Math.abs(o.induction.second.loss - Math.log(320))).toBeLessThan(0.1);
    expect(o.attention).toMatchObject({ r: 1, positions: 'reset', mask: 'causal', sentences: 6 });
    expect(o.attention.twinNext).toHaveLength(2);
    for (const row of [...o.attention.twinNext, ...o.attention.twin]) {
      expect(row).toHaveLength(2);
      for (const p of row) {
        expect(p).toBeGreaterThan(0);
        expect(p).toBeLessThan(1);
      }
    }
    expect(o.data).toMatchObject({ task: 'brown/pos-universal', split: 'dev', sentences: 6, maxTokens: 256 });
  });

  it('an encoder: the score is skipped with the reason, attention is measured with its bidirectional mask', async () => {
    const r = await reprise('inspect', '--model', join(dir, 'encoder'), ...small, '--json');
    expect(r.code, r.err).toBe(0);
    const o = JSON.parse(r.out);
    expect(o.induction.skipped).toMatch(/defined for decoders.*encoder/);
    expect(o.attention.mask).toBe('bidirectional');
    const t = await reprise('inspect', '--model', join(dir, 'encoder'), ...small);
    expect(t.out).toMatch(/induction\) score: skipped: .*defined for decoders/);
  });

  it('a directory that is not a backbone: a clear error', async () => {
    const r = await reprise('inspect', '--model', dir, ...small);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/error: .*(model\.safetensors|config\.json)/);
  });
});
