/**
 * @file `reprise finetune`: fine-tune a pretrained backbone for sequence labeling with a method (causal,
 * SR with r copies, unmasking, encoder) and a head layer; dev after every epoch, the best epoch on test.
 */
import { join } from 'node:path';
import { DEFAULT_LORA_TARGETS, LORA_TARGETS, validateLoraConfig } from '@reprise/model';
import { type Command, Option } from 'commander';
import {
  discardEmptyRunDir,
  lossCurveSvg,
  prepareRunDir,
  readMetrics,
  resolveAtomicDir,
  writeSvg,
} from '../../io/index.ts';
import { checkSlidingWindow, loadFinetuneBackbone } from '../../training/finetune-backbone.ts';
import { FINETUNE_DEFAULTS, type FinetuneOptions, finetune, labelerPlan } from '../../training/finetune.ts';
import { METHODS, methodLabel } from '../../training/methods.ts';
import { addDataOptions, taskFromOptions } from '../data-options.ts';
import { InterruptedError, resumeCommand } from '../interrupt.ts';
import { loraOption, loraTargetsArg } from '../lora-options.ts';
import {
  addRunDirOptions,
  deviceOption,
  floatArg,
  fractionArg,
  intArg,
  openDevice,
  positiveArg,
  runDirChoice,
} from '../options.ts';
import { terminalProgress } from '../progress.ts';

export function registerFinetune(program: Command): void {
  const d = FINETUNE_DEFAULTS;
  addRunDirOptions(
    addDataOptions(
      program
        .command('finetune')
        .description('fine-tune a pretrained backbone for sequence labeling')
        .requiredOption(
          '--backbone <dir>',
          'pretrained checkpoint (e.g. runs/pretrain/final) or a Hugging Face model directory (config.json with model_type, safetensors, tokenizer.json)',
        )
        .option(
          '--out <dir>',
          'run directory (refused if it holds a run: see --resume, --overwrite)',
          'runs/finetune',
        ),
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
        (v) => v.split(',').map(intArg('--unmasked-layers (each layer)')),
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
      .option(
        '--epochs <n>',
        'most epochs (the learning rate decays over all of them)',
        intArg('--epochs', 1),
        d.epochs,
      )
      .option(
        '--patience <n>',
        'early stopping: end once dev has not improved for n epochs (0: train every epoch; the best epoch is kept either way)',
        intArg('--patience'),
        d.patience,
      )
      .option('--batch-size <n>', 'sentences per step', intArg('--batch-size', 1), d.batchSize)
      .option('--lr <x>', 'learning rate (linear decay)', positiveArg('--lr'), d.lr)
      .option(
        '--warmup-ratio <x>',
        'warmup as a fraction of the steps',
        fractionArg('--warmup-ratio'),
        d.warmupRatio,
      )
      .option('--weight-decay <x>', 'AdamW weight decay', floatArg('--weight-decay'), d.weightDecay)
      .option('--clip <x>', 'global gradient-norm clip', positiveArg('--clip'), d.clip)
      .option(
        '--head-dropout <p>',
        'dropout before the head',
        fractionArg('--head-dropout', true),
        d.headDropout,
      )
      .option(
        '--max-tokens <n>',
        'subwords per sentence before repetition, the same for every r (training cuts longer sentences and says how many words; dev/test are read whole, in windows of this size)',
        intArg('--max-tokens', 1),
        d.maxTokens,
      )
      .option('--seed <n>', 'seed', intArg('--seed'), d.seed)
      .option(
        '--lora <rank>',
        'LoRA: train adapters of this rank on a frozen backbone, and the head (default: full fine-tuning); the checkpoint holds the adapters and names the backbone it needs',
        intArg('--lora', 1),
      )
      .option(
        '--lora-alpha <x>',
        "with --lora: the update is scaled by alpha/rank (default: alpha = rank, the paper's 16 and 16)",
        positiveArg('--lora-alpha'),
      )
      .option(
        '--lora-dropout <p>',
        "with --lora: dropout on the adapters' input (default 0.1, the paper's)",
        fractionArg('--lora-dropout', true),
      )
      .option(
        '--lora-targets <list>',
        `with --lora: the projections adapted, some of ${LORA_TARGETS.join(',')} (default ${DEFAULT_LORA_TARGETS.join(',')})`,
        loraTargetsArg,
      )
      .option(
        '--lora-merge',
        'with --lora: also write --out/merged, the best model with the adapters folded into the weights (a plain checkpoint that needs no base)',
      ),
    'continue the run in --out from its last checkpoint (--out/last; same options)',
  )
    .addOption(deviceOption())
    .action(async (a) => {
      const choice = runDirChoice(a, 'finetune', resolveAtomicDir(join(a.out, 'last')) !== null);
      const device = await openDevice(a.device);
      const task = taskFromOptions(a);
      const { model, tokenizer, hf } = loadFinetuneBackbone(a.backbone, device);
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
        patience: a.patience,
        batchSize: a.batchSize,
        lr: a.lr,
        warmupRatio: a.warmupRatio,
        weightDecay: a.weightDecay,
        clip: a.clip,
        headDropout: a.headDropout,
        maxTokens: a.maxTokens,
        seed: a.seed,
        ...loraOption(a),
      };
      // An impossible method or r is refused before the run directory is made or moved.
      const plan = labelerPlan(options, model, tokenizer.special.sep);
      checkSlidingWindow(hf, (plan.settings.r ?? 0) + 1, plan.maxTokens);
      if (options.lora) validateLoraConfig(model.config, options.lora);
      const movedTo = prepareRunDir(a.out, choice);
      if (movedTo) process.stderr.write(`--overwrite: the old run in ${a.out} was moved to ${movedTo}\n`);
      const progress = terminalProgress();
      const result = await finetune({
        device,
        outDir: a.out,
        backbone: model,
        backboneDir: a.backbone,
        saveMerged: a.loraMerge,
        tokenizer,
        data: task,
        options,
        resume: a.resume,
        onEvent: progress,
      }).catch((e) => {
        progress.stop();
        discardEmptyRunDir(a.out);
        throw e;
      });
      progress.stop();
      const steps = readMetrics(join(a.out, 'metrics.jsonl'))
        .filter((m) => m.phase === 'finetune' && typeof m.loss === 'number')
        .map((m) => ({ step: m.step as number, loss: m.loss as number }));
      await writeSvg(
        join(a.out, 'loss.svg'),
        await lossCurveSvg([{ name: 'train loss', points: steps }], 'fine-tuning loss'),
      );
      if (result.interrupted)
        throw new InterruptedError(
          `interrupted; checkpoint ${join(a.out, 'last')}\nresume with: ${resumeCommand('--resume')}`,
        );
      const t = result.test!;
      const loraNote = options.lora
        ? ` (LoRA adapters on ${a.backbone}${a.loraMerge ? `; merged: ${join(a.out, 'merged')}` : ''})`
        : '';
      console.log(
        `${methodLabel(options, model.config.layers)} on ${task.name}: best epoch ${result.bestEpoch}; test accuracy ${(100 * t.accuracy).toFixed(2)}%${t.spans ? `, span F1 ${(100 * t.spans.f1).toFixed(2)} (strict ${t.scheme!.toUpperCase()}; lenient ${(100 * t.lenientSpans!.f1).toFixed(2)})` : ''}; ${result.secondsPerEpoch.toFixed(0)} s/epoch; model ${join(a.out, 'best')}${loraNote}`,
      );
    });
}
