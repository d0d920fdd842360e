/**
 * @file `reprise demo` (`pnpm demo`, the README's main job): on the embedded Brown corpus, fine-tune the shipped
 * decoder (or `--backbone`) for Brown POS tagging as a plain causal decoder (r = 0) and with sequence repetition
 * (r = 1, positions continuing across copies as in the paper), and print test accuracy, proper-name span F1 and
 * time per epoch, next to the most-frequent-tag floor. Sized for well under 15 minutes on a 2-core machine with
 * a software WebGPU adapter. Ctrl-C saves a checkpoint and exits 130; `--resume <run>` continues that run
 * (finished methods are not redone).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Table from 'cli-table3';
import type { Command } from 'commander';
import { type LossSeries, barChartSvg, lossCurveSvg, writeJsonAtomic, writeSvg } from '../../io/index.ts';
import { loadBackbone } from '../../training/backbone-checkpoint.ts';
import { FINETUNE_DEFAULTS, finetune } from '../../training/finetune.ts';
import { methodLabel } from '../../training/methods.ts';
import { readPretrainingFacts } from '../../training/pretraining-facts.ts';
import { SHIPPED_BACKBONES } from '../../training/shipped.ts';
import { brownTaskData, tagFloor } from '../../training/tasks.ts';
import { InterruptedError, resumeCommand } from '../interrupt.ts';
import { deviceOption, intArg, openDevice } from '../options.ts';
import { terminalProgress } from '../progress.ts';

/** The demo's recipe and budget, measured on the 2-core development machine (docs/perf-notes.md). */
export const DEMO = {
  trainSentences: 4000,
  devSentences: 1000,
  epochs: 2,
  lr: 2e-3,
  /** The paper's setting: positions keep counting across the copies. */
  positions: 'continue' as const,
};

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'the main job: fine-tune the shipped decoder for Brown POS tagging with r = 0 and with SR r = 1, compare',
    )
    .option('--out <dir>', 'parent directory; each demo writes a new timestamped run inside', 'runs/demo')
    .option(
      '--backbone <dir>',
      'a pretrained decoder checkpoint (default: the shipped one, backbones/decoder)',
      SHIPPED_BACKBONES.decoder,
    )
    .option('--seed <n>', 'seed', intArg('--seed'), 0)
    .option(
      '--train-sentences <n>',
      'fine-tuning sentences',
      intArg('--train-sentences', 1),
      DEMO.trainSentences,
    )
    .option('--epochs <n>', 'fine-tuning epochs', intArg('--epochs', 1), DEMO.epochs)
    .option(
      '--resume <run>',
      'continue an interrupted demo run (e.g. runs/demo/2026-…), with the options it was started with',
    )
    .addOption(deviceOption())
    .action(async (a) => {
      const started = performance.now();
      const device = await openDevice(a.device);
      const out: string = a.resume ?? join(a.out, new Date().toISOString().replace(/[:.]/g, '-'));
      if (a.resume && !existsSync(out)) throw new Error(`--resume ${out}: no such demo run`);
      const backbone: string = a.backbone;
      const facts = readPretrainingFacts(backbone);
      const progress = terminalProgress();
      const interrupted = (what: string) => {
        progress.stop();
        return new InterruptedError(
          `interrupted during ${what}; checkpoints in ${out}\nresume with: ${resumeCommand('--resume', out)}`,
        );
      };
      const task = brownTaskData('pos-brown', a.trainSentences, DEMO.devSentences);
      const rows = [];
      const curves: LossSeries[] = [];
      for (const [method, r] of [
        ['causal', 0],
        ['sr', 1],
      ] as const) {
        // Each method starts from the same pretrained weights.
        const { model, tokenizer } = loadBackbone(backbone, device);
        const options = {
          ...FINETUNE_DEFAULTS,
          method,
          r: Math.max(r, 1), // the causal method ignores r
          positions: DEMO.positions,
          epochs: a.epochs,
          lr: DEMO.lr,
          warmupRatio: 0.05,
          seed: a.seed,
        };
        const res = await finetune({
          device,
          outDir: join(out, method === 'sr' ? `sr-r${r}` : method),
          backbone: model,
          tokenizer,
          data: task,
          options,
          // A finished method resumes at its last step: only its test evaluation runs again.
          resume: a.resume !== undefined,
          onEvent: progress,
        });
        res.labeler.dispose();
        if (res.interrupted || !res.test) throw interrupted(`fine-tuning (${method})`);
        const label = methodLabel({ method, r, layer: null }, model.config.layers);
        curves.push({ name: label, points: res.history.map((h) => ({ step: h.epoch, loss: h.trainLoss })) });
        rows.push({
          method: label,
          accuracy: res.test.accuracy,
          f1: res.test.spans?.f1 ?? Number.NaN,
          secondsPerEpoch: res.secondsPerEpoch,
          sentencesPerSecond: res.test.sentencesPerSecond,
        });
      }
      progress.stop();
      // The floor a tagger must beat, from the same training sentences the models saw and from all of them.
      const floor = {
        same: tagFloor(task.train, task.test),
        all: tagFloor(brownTaskData('pos-brown').train, task.test),
      };
      const table = new Table({
        head: ['method', 'test accuracy', 'NAME span F1', 's / epoch', 'test sentences / s'],
        style: { head: [], border: [] },
      });
      for (const r of rows)
        table.push([
          r.method,
          pct(r.accuracy),
          pct(r.f1),
          r.secondsPerEpoch.toFixed(0),
          r.sentencesPerSecond.toFixed(0),
        ]);
      const [causal, sr] = rows;
      console.log(
        `\nBrown POS (187 base tags), ${task.train.length} training sentences, ${a.epochs} epochs, best epoch on ${task.dev.length} dev sentences; test = ${task.test.length} sentences; SR r=1 with positions continuing across the copies (the paper's setting)`,
      );
      console.log(
        `backbone: ${backbone}${facts ? ` (${facts.kind}, ${facts.parameters.toLocaleString('en-US')} parameters, ${facts.steps} pretraining steps, validation perplexity ${Math.exp(facts.validationLoss).toFixed(1)})` : ''}`,
      );
      console.log(table.toString());
      console.log(
        `SR r=1 − causal: ${(100 * (sr!.accuracy - causal!.accuracy)).toFixed(2)} accuracy points, ${(100 * (sr!.f1 - causal!.f1)).toFixed(2)} F1 points`,
      );
      console.log(
        `floor (most frequent tag per word; unknown words → nn): ${pct(floor.same)} from the same ${task.train.length} sentences, ${pct(floor.all)} from all training sentences`,
      );
      console.log(
        `adapter: ${device.describe()}; wall time ${((performance.now() - started) / 60000).toFixed(1)} min; run: ${out}`,
      );
      writeJsonAtomic(join(out, 'summary.json'), {
        backbone,
        positions: DEMO.positions,
        rows,
        floor,
        adapter: device.describe(),
        seconds: (performance.now() - started) / 1000,
      });
      await writeSvg(
        join(out, 'accuracy.svg'),
        await barChartSvg(
          rows.map((r) => ({ group: r.method, value: 100 * r.accuracy })),
          { title: 'Brown POS test accuracy', yLabel: 'accuracy (%)' },
        ),
      );
      await writeSvg(
        join(out, 'finetune-loss.svg'),
        await lossCurveSvg(curves, 'fine-tuning loss by epoch (mean over the epoch)'),
      );
    });
}

const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(2)}%` : '—');
