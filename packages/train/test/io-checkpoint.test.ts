/**
 * @file Checkpoints: round trip, complete replacement, crashes at each stage leaving a complete checkpoint and
 * no leftovers, validation on load, and finding the latest checkpoint of a run.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type Checkpoint,
  type HostTensor,
  checkpointName,
  encodeSafetensors,
  hostTensor,
  latestCheckpoint,
  listCheckpoints,
  loadCheckpoint,
  pruneCheckpoints,
  saveCheckpoint,
  writeJsonAtomic,
} from '../src/io/index.ts';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'reprise-io-ckpt-'));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

const config = { model: { vocab: 5, dModel: 4, layers: 1 }, args: { lr: 3e-4, seed: 1 } };

function weights(fill: number): Record<string, HostTensor> {
  return {
    'embed.weight': hostTensor([5, 4], new Float32Array(20).fill(fill)),
    'ln.gain': hostTensor([4], new Float32Array([1, 2, 3, fill])),
  };
}

function full(fill: number): Checkpoint {
  return {
    weights: weights(fill),
    config,
    tokenizerJson: JSON.stringify({ vocab: ['a', 'b'], merges: [] }),
    optimizer: {
      'm.embed.weight': hostTensor([5, 4], new Float32Array(20).fill(fill / 10)),
      step: hostTensor([], new Int32Array([fill * 100])),
    },
    trainer: { step: fill * 100, epoch: 1, rng: [1, 2, 3, 4], best: { score: 0.5 } },
  };
}

const shapes = { 'embed.weight': [5, 4], 'ln.gain': [4] };

describe('checkpoint save and load', () => {
  it('round-trips every part', () => {
    const dir = join(root, 'run', 'step-000100');
    const ckpt = full(1);
    saveCheckpoint(dir, ckpt);
    expect(readdirSync(dir).sort()).toEqual([
      'config.json',
      'model.safetensors',
      'optimizer.safetensors',
      'tokenizer.json',
      'trainer.json',
    ]);
    expect(loadCheckpoint(dir, { expect: { shapes } })).toEqual(ckpt);
    expect(readdirSync(join(root, 'run'))).toEqual(['step-000100']);
  });

  it('round-trips a minimal checkpoint without optional keys', () => {
    const dir = join(root, 'min');
    saveCheckpoint(dir, { weights: weights(2), config });
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'model.safetensors']);
    const back = loadCheckpoint(dir);
    expect(back).toEqual({ weights: weights(2), config });
    expect(Object.keys(back).sort()).toEqual(['config', 'weights']);
  });

  it('replaces an existing checkpoint completely', () => {
    const dir = join(root, 'last');
    saveCheckpoint(dir, full(1));
    writeFileSync(join(dir, 'stray.txt'), 'left by someone');
    saveCheckpoint(dir, { weights: weights(3), config: { other: true } });
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'model.safetensors']);
    expect(loadCheckpoint(dir)).toEqual({ weights: weights(3), config: { other: true } });
    expect(readdirSync(root)).toEqual(['last']);
  });

  it('leaves the previous checkpoint intact when encoding the weights throws midway', () => {
    const dir = join(root, 'last');
    saveCheckpoint(dir, full(1));
    const exploding = weights(7);
    Object.defineProperty(exploding, 'z.last', {
      enumerable: true,
      get() {
        throw new Error('device lost while reading z.last');
      },
    });
    expect(() => saveCheckpoint(dir, { ...full(7), weights: exploding })).toThrow(/device lost/);
    expect(loadCheckpoint(dir)).toEqual(full(1));
    expect(readdirSync(root)).toEqual(['last']);
  });

  it('leaves the previous checkpoint intact when a later file fails after the weights were written', () => {
    const dir = join(root, 'last');
    saveCheckpoint(dir, full(1));
    const bad = { ...full(7), optimizer: { m: hostTensor([3], new Float32Array(2)) } };
    expect(() => saveCheckpoint(dir, bad)).toThrow(/'m': shape \[3\] has 3 elements but data has 2/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => saveCheckpoint(dir, { ...full(7), trainer: cyclic })).toThrow(/circular/);
    expect(loadCheckpoint(dir)).toEqual(full(1));
    expect(readdirSync(root)).toEqual(['last']);
  });

  it('survives a crash between the two renames of the swap', () => {
    const dir = join(root, 'last');
    saveCheckpoint(dir, full(1));
    // State after `dir -> dir.old-*` and before `tmp -> dir`, with a half-written temp copy beside it.
    renameSync(dir, `${dir}.old-4242-abcdef`);
    mkdirSync(`${dir}.tmp-4242-012345`);
    writeFileSync(join(`${dir}.tmp-4242-012345`, 'config.json'), '{"half":');

    // Readers fall back to the complete old copy without touching anything.
    expect(loadCheckpoint(dir)).toEqual(full(1));
    expect(listCheckpoints(root).map((e) => [e.name, e.step])).toEqual([['last', 100]]);
    expect(readdirSync(root).sort()).toEqual(['last.old-4242-abcdef', 'last.tmp-4242-012345']);

    // The next save repairs first, so even if it then fails the old checkpoint is back in place.
    const bad = { ...full(2), optimizer: { m: hostTensor([3], new Float32Array(2)) } };
    expect(() => saveCheckpoint(dir, bad)).toThrow(/has 3 elements/);
    expect(readdirSync(root)).toEqual(['last']);
    expect(loadCheckpoint(dir)).toEqual(full(1));
    saveCheckpoint(dir, full(2));
    expect(readdirSync(root)).toEqual(['last']);
    expect(loadCheckpoint(dir)).toEqual(full(2));
  });

  it('cleans up a stale old copy left by a crash after the swap', () => {
    const dir = join(root, 'last');
    saveCheckpoint(dir, full(1));
    mkdirSync(`${dir}.old-99-ff`);
    expect(loadCheckpoint(dir)).toEqual(full(1));
    saveCheckpoint(dir, full(2));
    expect(readdirSync(root)).toEqual(['last']);
  });

  it('refuses to replace a directory that is not a checkpoint', () => {
    const runDir = join(root, 'run');
    mkdirSync(runDir);
    writeFileSync(join(runDir, 'metrics.jsonl'), '{}\n');
    expect(() => saveCheckpoint(runDir, full(1))).toThrow(
      /refusing to replace .*run: it has no model\.safetensors/,
    );
    expect(readdirSync(runDir)).toEqual(['metrics.jsonl']);
    expect(readdirSync(root)).toEqual(['run']);
  });

  it('refuses a tokenizer that is not JSON before writing anything', () => {
    expect(() => saveCheckpoint(join(root, 'c'), { ...full(1), tokenizerJson: 'vocab: a b' })).toThrow(
      /tokenizerJson is not valid JSON/,
    );
    expect(readdirSync(root)).toEqual([]);
  });
});

describe('checkpoint load refuses what does not fit', () => {
  let dir: string;
  beforeEach(() => {
    dir = join(root, 'ckpt');
    saveCheckpoint(dir, full(1));
  });

  it('a missing directory', () => {
    expect(() => loadCheckpoint(join(root, 'nope'))).toThrow(/checkpoint .*nope does not exist/);
  });

  it('a missing file', () => {
    rmSync(join(dir, 'model.safetensors'));
    expect(() => loadCheckpoint(dir)).toThrow(/checkpoint .*ckpt is missing model\.safetensors/);
    rmSync(join(dir, 'config.json'));
    expect(() => loadCheckpoint(dir)).toThrow(/is missing config\.json/);
  });

  it('a bad safetensors header, naming the file', () => {
    writeFileSync(
      join(dir, 'model.safetensors'),
      Buffer.from([4, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x7b, 0x7b, 0x7b]),
    );
    expect(() => loadCheckpoint(dir)).toThrow(/safetensors .*ckpt\/model\.safetensors: header is not JSON/);
  });

  it('a safetensors file that is not a reprise checkpoint', () => {
    writeFileSync(join(dir, 'model.safetensors'), encodeSafetensors(weights(1)));
    expect(() => loadCheckpoint(dir)).toThrow(
      /model\.safetensors: __metadata__\.format is undefined, expected 'reprise-checkpoint'/,
    );
    writeFileSync(
      join(dir, 'model.safetensors'),
      encodeSafetensors({}, { format: 'reprise-checkpoint', version: '9' }),
    );
    expect(() => loadCheckpoint(dir)).toThrow(/model\.safetensors: unsupported version "9"/);
  });

  it('an optimizer file of the wrong kind', () => {
    writeFileSync(
      join(dir, 'optimizer.safetensors'),
      encodeSafetensors({}, { format: 'reprise-checkpoint', version: '1' }),
    );
    expect(() => loadCheckpoint(dir)).toThrow(
      /optimizer\.safetensors: __metadata__\.format is "reprise-checkpoint"/,
    );
  });

  it('a config that is not JSON', () => {
    writeFileSync(join(dir, 'trainer.json'), '{"step": 1');
    expect(() => loadCheckpoint(dir)).toThrow(/trainer\.json:1:11: not valid JSON/);
  });

  it('a config mismatch, before looking at the weights', () => {
    writeFileSync(join(dir, 'model.safetensors'), 'garbage');
    const check = (cfg: typeof config) =>
      cfg.model.dModel === 8 ? null : `dModel is ${cfg.model.dModel}, the model has 8`;
    expect(() => loadCheckpoint<typeof config>(dir, { expect: { config: check } })).toThrow(
      /checkpoint file .*ckpt\/config\.json does not match: dModel is 4, the model has 8/,
    );
  });

  it('wrong, missing and extra tensors, all listed', () => {
    const expected = { 'embed.weight': [5, 8], 'head.weight': [4, 5] };
    let message = '';
    try {
      loadCheckpoint(dir, { expect: { shapes: expected } });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/checkpoint file .*ckpt\/model\.safetensors does not fit the model/);
    expect(message).toContain("tensor 'embed.weight': expected shape [5, 8], found [5, 4]");
    expect(message).toContain("missing tensor 'head.weight' (expected [4, 5])");
    expect(message).toContain("unexpected tensor 'ln.gain' [4]");
  });

  it('a scalar where a vector is expected', () => {
    expect(() => loadCheckpoint(dir, { expect: { shapes: { ...shapes, 'ln.gain': [] } } })).toThrow(
      /tensor 'ln\.gain': expected shape \[\], found \[4\]/,
    );
  });
});

describe('checkpoints of a run', () => {
  it('names, lists, finds the latest and prunes', () => {
    expect(checkpointName(123)).toBe('step-000123');
    expect(checkpointName(12345678)).toBe('step-12345678');
    expect(() => checkpointName(-1)).toThrow(/bad step/);
    expect(listCheckpoints(join(root, 'missing'))).toEqual([]);
    expect(latestCheckpoint(root)).toBeNull();

    for (const step of [50, 1000, 200]) saveCheckpoint(join(root, checkpointName(step)), full(step / 100));
    saveCheckpoint(join(root, 'best'), { ...full(1), trainer: { step: 200 } });
    saveCheckpoint(join(root, 'init'), { weights: weights(0), config });
    mkdirSync(join(root, 'step-000300.tmp-1-ab')); // an interrupted first save: not a checkpoint
    mkdirSync(join(root, 'plots'));
    writeJsonAtomic(join(root, 'args.json'), {});

    expect(listCheckpoints(root).map((e) => [e.name, e.step])).toEqual([
      ['init', null],
      ['step-000050', 50],
      ['best', 200],
      ['step-000200', 200],
      ['step-001000', 1000],
    ]);
    expect(latestCheckpoint(root)).toBe(join(root, 'step-001000'));

    expect(pruneCheckpoints(root, 1)).toEqual([join(root, 'step-000050'), join(root, 'step-000200')]);
    expect(listCheckpoints(root).map((e) => e.name)).toEqual(['init', 'best', 'step-001000']);
    expect(existsSync(join(root, 'best'))).toBe(true);
  });
});
