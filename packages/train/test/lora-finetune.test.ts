/**
 * `reprise finetune --lora` end to end on a tiny model: the run trains adapters and a head on a frozen backbone,
 * its checkpoint holds only those (and names the base with its SHA-256), `eval`, `predict` and `loadLabeler`
 * reload it onto the base, another base is refused, and misused flags are refused before anything is written.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Device, tidy } from '@reprise/core';
import type { SequenceLabeler } from '@reprise/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSafetensorsHeader } from '../src/io/index.ts';
import { loadLabeler } from '../src/training/labeler-checkpoint.ts';
import { toyNameConll as conll, repriseOnTestDevice as reprise } from './cli-helpers.ts';

const pretrain = (out: string, seed: number) =>
  reprise(
    'pretrain',
    '--out',
    out,
    ...['--d-model', '16', '--heads', '2', '--layers', '2', '--steps', '2', '--batch-size', '2'],
    ...['--context', '16', '--vocab-size', '300', '--eval-every', '2', '--seed', String(seed)],
  );

describe('reprise finetune --lora', () => {
  const dir = mkdtempSync(join(tmpdir(), 'reprise-lora-'));
  const base = join(dir, 'pre/final');
  const data = ['train', 'dev', 'test'].flatMap((s) => [`--${s}`, join(dir, `${s}.conll`)]);
  let cpu: Device;
  beforeAll(async () => {
    cpu = await Device.create({ device: 'cpu' });
    for (const [name, n, seed] of [
      ['train', 16, 0],
      ['dev', 4, 1],
      ['test', 4, 2],
    ] as const)
      writeFileSync(join(dir, `${name}.conll`), conll(n, seed));
    const pre = await pretrain(join(dir, 'pre'), 1);
    expect(pre.code, pre.err).toBe(0);
  }, 300_000);
  afterAll(() => cpu?.destroy());

  it('trains adapters and a head; the checkpoint holds those and names its base; eval, predict and reload work', async () => {
    const out = join(dir, 'ft');
    const options = [
      ...['--method', 'sr', '--r', '1', '--epochs', '2', '--batch-size', '8', '--lr', '1e-2', '--out', out],
      ...['--lora', '2', '--lora-alpha', '4', '--lora-dropout', '0', '--lora-targets', 'q,v,o,up'],
      '--lora-merge',
    ];
    const run = await reprise('finetune', '--backbone', base, ...data, ...options);
    expect(run.code, run.err).toBe(0);
    expect(run.out).toMatch(/SR r=1 on .*test accuracy [\d.]+%/);
    // Resuming the finished run loads `last` (adapters, head, their optimizer moments) onto the base again.
    const resumed = await reprise('finetune', '--backbone', base, ...data, ...options, '--resume');
    expect(resumed.code, resumed.err).toBe(0);
    expect(resumed.err).toMatch(/resuming from .*last at step 4/);
    const config = JSON.parse(readFileSync(join(out, 'best/config.json'), 'utf8'));
    expect(config.lora).toMatchObject({ rank: 2, alpha: 4, dropout: 0, targets: ['q', 'v', 'o', 'up'] });
    expect(config.lora.base.dir).toBe(resolve(base));
    expect(config.lora.base.sha256).toMatch(/^[0-9a-f]{64}$/);
    // Adapters of both blocks and the head; no base weight.
    const names = readSafetensorsHeader(join(out, 'best/model.safetensors')).entries.map((e) => e.name);
    expect(names.sort()).toEqual(
      [
        ...[0, 1].flatMap((l) =>
          ['attn.q', 'attn.v', 'attn.proj', 'mlp.fc'].flatMap((w) => [
            `blocks.${l}.${w}.lora_A`,
            `blocks.${l}.${w}.lora_B`,
          ]),
        ),
        'head.bias',
        'head.weight',
      ].sort(),
    );
    // The resume checkpoint's optimizer state covers the same tensors only.
    const moments = readSafetensorsHeader(join(out, 'last/optimizer.safetensors')).entries.map((e) => e.name);
    expect(moments.filter((n) => n !== 'step').every((n) => /lora_[AB]\.[mv]$|^head\./.test(n))).toBe(true);

    const loaded = loadLabeler(join(out, 'best'), cpu);
    const backbone = loaded.labeler.backbone;
    expect(backbone.lora?.config.targets).toEqual(['q', 'v', 'o', 'up']);
    expect(Object.values(backbone.params).some((t) => t.requiresGrad)).toBe(false);
    // Trained: B left zero would mean the adapters did nothing.
    const b = await backbone.lora!.params['blocks.1.attn.q.lora_B']!.hostData();
    expect(Math.max(...Array.from(b, Math.abs))).toBeGreaterThan(0);
    // --lora-merge: a plain labeler (the base's weights with the adapters folded in) with the same outputs.
    const merged = loadLabeler(join(out, 'merged'), cpu);
    expect(merged.config.lora).toBeUndefined();
    expect(merged.labeler.backbone.lora).toBeNull();
    const layout = merged.labeler.layout([
      [5, 9, 31, 7],
      [12, 40],
    ]);
    const logitsOf = async (l: SequenceLabeler) => {
      const t = tidy(() => l.forward(layout));
      const v = Array.from(await t.hostData());
      t.dispose();
      return v;
    };
    const [adapted, folded] = [await logitsOf(loaded.labeler), await logitsOf(merged.labeler)];
    // The merged weights are stored in f32: one rounding per element.
    expect(Math.max(...adapted.map((x, i) => Math.abs(x - folded[i]!)))).toBeLessThan(1e-5);
    merged.labeler.dispose();
    loaded.labeler.dispose();

    const ev = await reprise('eval', '--model', join(out, 'best'), ...data);
    expect(ev.code, ev.err).toBe(0);
    expect(ev.out).toMatch(/test: 4 sentences, accuracy [\d.]+%/);
    writeFileSync(join(dir, 'raw.txt'), 'we met Alice Smith .\n');
    const pr = await reprise('predict', '--model', join(out, 'best'), '--input', join(dir, 'raw.txt'));
    expect(pr.code, pr.err).toBe(0);
    expect(pr.out.trim().split('\n')).toHaveLength(5);

    // Another base (same shapes, other weights) is refused, naming both.
    const other = await pretrain(join(dir, 'pre2'), 2);
    expect(other.code, other.err).toBe(0);
    expect(() => loadLabeler(join(out, 'best'), cpu, { baseDir: join(dir, 'pre2/final') })).toThrow(
      new RegExp(
        `fine-tuned from ${resolve(base)} \\(weights SHA-256 [0-9a-f]{64}\\), but .*pre2/final holds other weights`,
      ),
    );
  }, 600_000);

  it('refuses --lora-* without --lora, an unknown target, and a target the backbone lacks, before writing', async () => {
    const out = join(dir, 'refused');
    const stray = await reprise('finetune', '--backbone', base, ...data, '--out', out, '--lora-alpha', '4');
    expect(stray.code).toBe(1);
    expect(stray.err).toMatch(/--lora-alpha set without --lora <rank>/);
    const merge = await reprise('finetune', '--backbone', base, ...data, '--out', out, '--lora-merge');
    expect(merge.code).toBe(1);
    expect(merge.err).toMatch(/--lora-merge set without --lora <rank>/);
    const unknown = await reprise(
      'finetune',
      '--backbone',
      base,
      ...data,
      '--out',
      out,
      '--lora',
      '2',
      '--lora-targets',
      'q,w',
    );
    expect(unknown.code).not.toBe(0);
    expect(unknown.err).toMatch(
      /'w' is not a projection; expected a comma-separated list of q, k, v, o, gate, up, down/,
    );
    const gate = await reprise(
      'finetune',
      '--backbone',
      base,
      ...data,
      '--out',
      out,
      '--lora',
      '2',
      '--lora-targets',
      'gate',
    );
    expect(gate.code).toBe(1);
    expect(gate.err).toMatch(/no 'gate' projection/);
    expect(existsSync(out)).toBe(false);
  }, 300_000);
});
