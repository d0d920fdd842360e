/**
 * @file `reprise finetune`: fine-tune a pretrained backbone for sequence labeling with a method (causal,
 * SR with r copies, unmasking, encoder) and a head layer; dev after every epoch, the best epoch on test.
 */
import { join } from 'node:path';
import { type Command, Option } from 'commander';
import { BROWN_TASKS, type BrownTask } from '../../data/index.ts';
import { lossCurveSvg, readMetrics, writeSvg } from '../../io/index.ts';
import { loadBackbone } from '../../training/backbone-checkpoint.ts';
import { FINETUNE_DEFAULTS, type FinetuneOptions, finetune } from '../../training/finetune.ts';
import { METHODS, methodLabel } from '../../training/methods.ts';
import { type TaskData, brownTaskData, conllTaskData } from '../../training/tasks.ts';
import { deviceOption, floatArg, intArg, openDevice } from '../options.ts';
import { terminalProgress } from '../progress.ts';

/** Data options shared by finetune and eval: a Brown task, or CoNLL files. */
export function addDataOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--task <task>', 'built-in Brown task')
        .choices(BROWN_TASKS as unknown as string[])
        .default('pos-brown'),
    )
    .option('--train <file>', 'CoNLL training file (instead of --task)')
    .option('--dev <file>', 'CoNLL dev file')
    .option('--test <file>', 'CoNLL test file')
    .option(
      '--label-column <n>',
      'CoNLL column holding the labels (0-based; negative counts from the end)',
      (v) => Number(v),
      -1,
    )
    .option('--train-limit <n>', 'use only the first n training sentences', intArg('--train-limit', 1));
}

export function taskFromOptions(a: {
  task: string;
  train?: string;
  dev?: string;
  test?: string;
  labelColumn: number;
  trainLimit?: number;
}): TaskData {
  if (a.train || a.dev || a.test) {
    if (!a.train || !a.dev || !a.test) throw new Error('CoNLL data needs all of --train, --dev and --test');
    return conllTaskData({ train: a.train, dev: a.dev, test: a.test }, a.labelColumn, a.trainLimit);
  }
  return brownTaskData(a.task as BrownTask, a.trainLimit);
}

export function registerFinetune(program: Command): void {
  const d = FINETUNE_DEFAULTS;
  addDataOptions(
    program
      .command('finetune')
      .description('fine-tune a pretrained backbone for sequence labeling')
      .requiredOption('--backbone <dir>', 'pretrained checkpoint (e.g. runs/pretrain/final)')
      .option('--out <dir>', 'run directory', 'runs/finetune'),
  )
    .addOption(
      new Option('--method <method>', 'how the labeler sees right context')
        .choices(METHODS as unknown as string[])
        .default(d.method),
    )
    .option('--r <n>', 'extra copies for --method sr', intArg('--r', 1), d.r)
    .option(
      '--unmasked-layers <list>',
      'for --method unmask-layers: 0-based layers without the causal mask, e.g. 1,2',
      (v) => v.split(',').map(Number),
      [],
    )
    .option('--layer <n>', 'put the head on block n (early exit; default: the last)', intArg('--layer', 1))
    .option('--no-final-norm', 'skip the final LayerNorm at the exit layer')
    .option('--separator', 'a [SEP] token between copies', false)
    .addOption(
      new Option('--positions <mode>', 'positions across copies')
        .choices(['continue', 'reset'])
        .default('continue'),
    )
    .option('--full-last-layer', 'compute the last layer for every copy (slower; same result)', false)
    .addOption(
      new Option('--label-subword <which>', 'the subword that carries a word label')
        .choices(['first', 'last'])
        .default('first'),
    )
    .option('--epochs <n>', 'epochs', intArg('--epochs', 1), d.epochs)
    .option('--batch-size <n>', 'sentences per step', intArg('--batch-size', 1), d.batchSize)
    .option('--lr <x>', 'learning rate (linear decay)', floatArg('--lr'), d.lr)
    .option(
      '--warmup-ratio <x>',
      'warmup as a fraction of the steps',
      floatArg('--warmup-ratio'),
      d.warmupRatio,
    )
    .option('--weight-decay <x>', 'AdamW weight decay', floatArg('--weight-decay'), d.weightDecay)
    .option('--clip <x>', 'global gradient-norm clip', floatArg('--clip'), d.clip)
    .option('--head-dropout <p>', 'dropout before the head', floatArg('--head-dropout'), d.headDropout)
    .option(
      '--max-tokens <n>',
      'subwords per sentence before repetition',
      intArg('--max-tokens', 1),
      d.maxTokens,
    )
    .option('--seed <n>', 'seed', intArg('--seed'), d.seed)
    .option('--resume', 'continue from --out/last', false)
    .addOption(deviceOption())
    .action(async (a) => {
      const device = await openDevice(a.device);
      const task = taskFromOptions(a);
      const { model, tokenizer } = loadBackbone(a.backbone, device);
      const options: FinetuneOptions = {
        ...d,
        method: a.method,
        r: a.r,
        unmaskedLayers: a.unmaskedLayers,
        layer: a.layer ?? null,
        finalNorm: a.finalNorm,
        separator: a.separator,
        positions: a.positions,
        lastCopyOnly: !a.fullLastLayer,
        labelSubword: a.labelSubword,
        epochs: a.epochs,
        batchSize: a.batchSize,
        lr: a.lr,
        warmupRatio: a.warmupRatio,
        weightDecay: a.weightDecay,
        clip: a.clip,
        headDropout: a.headDropout,
        maxTokens: a.maxTokens,
        seed: a.seed,
      };
      const progress = terminalProgress();
      const result = await finetune({
        device,
        outDir: a.out,
        backbone: model,
        tokenizer,
        data: task,
        options,
        resume: a.resume,
        onEvent: progress,
      });
      progress.stop();
      const steps = readMetrics(join(a.out, 'metrics.jsonl'))
        .filter((m) => m.phase === 'finetune' && typeof m.loss === 'number')
        .map((m) => ({ step: m.step as number, loss: m.loss as number }));
      await writeSvg(
        join(a.out, 'loss.svg'),
        await lossCurveSvg([{ name: 'train loss', points: steps }], 'fine-tuning loss'),
      );
      if (result.interrupted) {
        console.log(`interrupted; resume with --resume (checkpoint ${join(a.out, 'last')})`);
        return;
      }
      const t = result.test!;
      console.log(
        `${methodLabel(options, model.config.layers)} on ${task.name}: best epoch ${result.bestEpoch}; test accuracy ${(100 * t.accuracy).toFixed(2)}%${t.spans ? `, span F1 ${(100 * t.spans.f1).toFixed(2)}` : ''}; ${result.secondsPerEpoch.toFixed(0)} s/epoch; model ${join(a.out, 'best')}`,
      );
    });
}
