/**
 * The `reprise` command end to end on the Dawn adapter with a tiny model: pretrain, fine-tune on CoNLL files the
 * user brings, eval, predict; and the errors a user sees for malformed input and missing files.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repriseOnTestDevice as reprise } from './cli-helpers.ts';

/** A toy NER-style CoNLL file: capitalized words after "met" are names. */
function conll(n: number, seed: number): string {
  const names = ['Alice', 'Bob', 'Carol', 'Dave'];
  const lines = ['-DOCSTART- -X- O', ''];
  for (let i = 0; i < n; i++) {
    const a = names[(i + seed) % 4]!;
    const b = names[(i * 3 + seed) % 4]!;
    lines.push('we X O', 'met X O', `${a} X B-PER`, 'and X O', `${b} X B-PER`, 'Smith X I-PER', '. X O', '');
  }
  return lines.join('\n');
}

describe('reprise CLI', () => {
  it('pretrain --tokenizer reuses a tokenizer; ship-backbone copies a finished run with its facts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reprise-ship-'));
    const tiny = ['--d-model', '16', '--heads', '2', '--layers', '1', '--steps', '3', '--batch-size', '2'];
    const small = [...tiny, '--context', '16', '--eval-every', '3', '--vocab-size', '300'];
    expect((await reprise('pretrain', '--out', join(dir, 'dec'), ...small)).code).toBe(0);
    const decoderTokenizer = join(dir, 'dec/final/tokenizer.json');
    const enc = await reprise(
      'pretrain',
      '--out',
      join(dir, 'enc'),
      '--kind',
      'encoder',
      ...small,
      '--tokenizer',
      decoderTokenizer,
    );
    expect(enc.code, enc.err).toBe(0);
    expect(readFileSync(join(dir, 'enc/final/tokenizer.json'), 'utf8')).toBe(
      readFileSync(decoderTokenizer, 'utf8'),
    );
    const shipped = join(dir, 'shipped');
    const ship = await reprise(
      'ship-backbone',
      join(dir, 'enc'),
      shipped,
      '--command',
      'pnpm reprise pretrain …',
    );
    expect(ship.code, ship.err).toBe(0);
    expect(ship.out).toMatch(/encoder, [\d,]+ parameters, 3 steps, .* validation loss [\d.]+/);
    const facts = JSON.parse(readFileSync(join(shipped, 'pretraining.json'), 'utf8'));
    expect(facts).toMatchObject({
      kind: 'encoder',
      steps: 3,
      tokensSeen: 3 * 2 * 16,
      command: 'pnpm reprise pretrain …',
    });
    // The loss measured again on the copied weights is the one logged at the last step.
    expect(Math.abs(facts.validationLoss - facts.validation.at(-1).loss)).toBeLessThan(1e-4);
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'loss.svg'])
      expect(existsSync(join(shipped, f))).toBe(true);
    // An unfinished run is refused, naming it.
    const none = await reprise('ship-backbone', join(dir, 'nothing'), join(dir, 'x'), '--command', 'c');
    expect(none.code).toBe(1);
    expect(none.err).toContain(`${join(dir, 'nothing')}: no final/ checkpoint`);
  }, 300_000);

  it('pretrain → finetune on CoNLL files → eval → predict', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reprise-cli-'));
    const pre = await reprise(
      'pretrain',
      '--out',
      join(dir, 'pre'),
      '--d-model',
      '16',
      '--heads',
      '2',
      '--layers',
      '2',
      '--steps',
      '4',
      '--batch-size',
      '2',
      '--context',
      '16',
      '--vocab-size',
      '300',
      '--eval-every',
      '2',
    );
    expect(pre.code, pre.err).toBe(0);
    expect(pre.out).toMatch(/validation perplexity/);
    for (const f of ['model.safetensors', 'config.json', 'tokenizer.json'])
      expect(existsSync(join(dir, 'pre/final', f))).toBe(true);
    expect(existsSync(join(dir, 'pre/loss.svg'))).toBe(true);
    for (const [name, n, seed] of [
      ['train', 40, 0],
      ['dev', 8, 1],
      ['test', 8, 2],
    ] as const)
      writeFileSync(join(dir, `${name}.conll`), conll(n, seed));
    const data = [
      '--train',
      join(dir, 'train.conll'),
      '--dev',
      join(dir, 'dev.conll'),
      '--test',
      join(dir, 'test.conll'),
    ];
    const ft = await reprise(
      'finetune',
      '--backbone',
      join(dir, 'pre/final'),
      ...data,
      '--method',
      'sr',
      '--r',
      '1',
      '--epochs',
      '2',
      '--batch-size',
      '8',
      '--out',
      join(dir, 'ft'),
    );
    expect(ft.code, ft.err).toBe(0);
    expect(ft.out).toMatch(/SR r=1 on .*test accuracy [\d.]+%, span F1 [\d.]+/);
    expect(JSON.parse(readFileSync(join(dir, 'ft/results.json'), 'utf8')).history).toHaveLength(2);
    const ev = await reprise('eval', '--model', join(dir, 'ft/best'), ...data);
    expect(ev.code, ev.err).toBe(0);
    expect(ev.out).toMatch(/test: 8 sentences, accuracy [\d.]+%, span F1/);
    // Labeled with the file it scored, not the --train file the task is named after.
    expect(ev.out.startsWith(`${join(dir, 'test.conll')} test: 8 sentences`)).toBe(true);
    writeFileSync(join(dir, 'raw.txt'), 'we met Alice and Bob Smith .\n\nwe met Dave .\n');
    const pr = await reprise('predict', '--model', join(dir, 'ft/best'), '--input', join(dir, 'raw.txt'));
    expect(pr.code, pr.err).toBe(0);
    const blocks = pr.out.trim().split('\n\n');
    expect(blocks).toHaveLength(2);
    expect(blocks[0]!.split('\n').map((l) => l.split('\t')[0])).toEqual([
      'we',
      'met',
      'Alice',
      'and',
      'Bob',
      'Smith',
      '.',
    ]);
    for (const line of pr.out.trim().split('\n').filter(Boolean)) expect(line).toMatch(/^\S+\t(O|[BI]-PER)$/);
  });

  it('malformed input and wrong checkpoints give clear errors', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reprise-cli-'));
    writeFileSync(join(dir, 'bad.conll'), 'a X O\nb O\n\n');
    const badData = ['--train', '--dev', '--test'].flatMap((flag) => [flag, join(dir, 'bad.conll')]);
    const bad = await reprise('eval', '--model', dir, ...badData);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/error: .*(model\.safetensors|config\.json)/);
    const ragged = await reprise('finetune', '--backbone', dir, ...badData);
    expect(ragged.code).toBe(1);
    expect(ragged.err).toMatch(/bad\.conll:2.*column/i);
    const badMethod = await reprise('finetune', '--backbone', dir, '--method', 'magic');
    expect(badMethod.code).not.toBe(0);
    expect(badMethod.err).toMatch(/Allowed choices are causal, sr/);
  });
});
