/**
 * @file `reprise pretrain`: train a tokenizer and a decoder (causal LM) or an encoder (masked LM) on the
 * Brown training text or a text file; checkpoints, metrics.jsonl and loss.svg in the run directory. An --out
 * that holds a run is refused unless --resume or --overwrite says what to do with it.
 */
import { join } from 'node:path';
import { DEFAULT_CONFIG } from '@reprise/model';
import { type Command, Option } from 'commander';
import { pretrainingText } from '../../data/index.ts';
import {
  discardEmptyRunDir,
  latestCheckpoint,
  lossCurveSvg,
  prepareRunDir,
  writeSvg,
} from '../../io/index.ts';
import { BpeTokenizer } from '../../tokenizer/index.ts';
import { PRETRAIN_DEFAULTS, type PretrainOptions, pretrain } from '../../training/pretrain.ts';
import { InterruptedError, resumeCommand } from '../interrupt.ts';
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

export function registerPretrain(program: Command): void {
  const d = PRETRAIN_DEFAULTS;
  // The model's own defaults (one source for the library and the CLI); --d-ff defaults to 4·d-model.
  const m = DEFAULT_CONFIG;
  addRunDirOptions(
    program
      .command('pretrain')
      .description('pretrain a decoder (causal LM) or an encoder (masked LM) and its BPE tokenizer')
      .option(
        '--out <dir>',
        'run directory (refused if it holds a run: see --resume, --overwrite)',
        'runs/pretrain',
      )
      .addOption(
        new Option('--kind <kind>', 'decoder (causal LM) or encoder (masked LM)')
          .choices(['decoder', 'encoder'])
          .default('decoder'),
      )
      .option(
        '--text <file>',
        'pretraining text, one sentence per line (default: the Brown training documents)',
      )
      .option('--d-model <n>', 'model width', intArg('--d-model', 1), m.dModel)
      .option('--heads <n>', 'attention heads', intArg('--heads', 1), m.heads)
      .option('--layers <n>', 'blocks', intArg('--layers', 1), m.layers)
      .option('--d-ff <n>', 'MLP width (default 4·d-model)', intArg('--d-ff', 1))
      .option(
        '--max-positions <n>',
        'longest sequence the model accepts (after repetition)',
        intArg('--max-positions', 1),
        m.maxPositions,
      )
      .option('--dropout <p>', 'dropout', fractionArg('--dropout', true), m.dropout)
      .addOption(
        new Option('--positions <kind>', 'position embedding')
          .choices(['rotary', 'learned'])
          .default(m.positions),
      )
      .option('--vocab-size <n>', 'BPE vocabulary size', intArg('--vocab-size', 263), d.vocabSize)
      .option(
        '--tokenizer <file>',
        "use this tokenizer.json instead of training one (e.g. the decoder's, so that an encoder cuts words the same way)",
      )
      .option('--steps <n>', 'optimizer steps', intArg('--steps', 1), d.steps)
      .option('--batch-size <n>', 'windows per step', intArg('--batch-size', 1), d.batchSize)
      .option('--context <n>', 'tokens per window', intArg('--context', 2), d.context)
      .option(
        '--lr <x>',
        'peak learning rate (warmup, then cosine decay to lr/10)',
        positiveArg('--lr'),
        d.lr,
      )
      .option('--warmup <n>', 'warmup steps', intArg('--warmup'), d.warmupSteps)
      .option('--weight-decay <x>', 'AdamW weight decay', floatArg('--weight-decay'), d.weightDecay)
      .option('--clip <x>', 'global gradient-norm clip', positiveArg('--clip'), d.clip)
      .option('--seed <n>', 'seed', intArg('--seed'), d.seed)
      .option(
        '--eval-every <n>',
        'validation perplexity every n steps',
        intArg('--eval-every', 1),
        d.evalEvery,
      )
      .option(
        '--checkpoint-every <n>',
        'resumable checkpoint every n steps (0: end and Ctrl-C only)',
        intArg('--checkpoint-every'),
        d.checkpointEvery,
      )
      .option(
        '--repeat-fraction <x>',
        'fraction of training sentences written twice in a row (teaches a small decoder to look up an earlier copy, which SR uses)',
        fractionArg('--repeat-fraction'),
        d.repeatFraction,
      ),
    'continue the run in --out from its latest checkpoint (same options)',
  )
    .addOption(deviceOption())
    .action(async (a) => {
      const choice = runDirChoice(a, 'pretrain', latestCheckpoint(join(a.out, 'checkpoints')) !== null);
      const device = await openDevice(a.device);
      const options: PretrainOptions = {
        ...d,
        model: {
          kind: a.kind,
          dModel: a.dModel,
          heads: a.heads,
          layers: a.layers,
          dFF: a.dFf ?? 4 * a.dModel,
          maxPositions: a.maxPositions,
          dropout: a.dropout,
          positions: a.positions,
        },
        vocabSize: a.vocabSize,
        steps: a.steps,
        batchSize: a.batchSize,
        context: a.context,
        lr: a.lr,
        warmupSteps: a.warmup,
        weightDecay: a.weightDecay,
        clip: a.clip,
        seed: a.seed,
        evalEvery: a.evalEvery,
        checkpointEvery: a.checkpointEvery,
        repeatFraction: a.repeatFraction,
      };
      const { train, dev } = pretrainingText(a.text);
      const tokenizer = a.tokenizer ? BpeTokenizer.load(a.tokenizer) : undefined;
      if (tokenizer) options.vocabSize = tokenizer.vocabSize;
      const movedTo = prepareRunDir(a.out, choice);
      if (movedTo) process.stderr.write(`--overwrite: the old run in ${a.out} was moved to ${movedTo}\n`);
      const progress = terminalProgress();
      const result = await pretrain({
        device,
        outDir: a.out,
        options,
        train,
        dev,
        tokenizer,
        resume: a.resume,
        onEvent: progress,
      }).catch((e) => {
        progress.stop();
        discardEmptyRunDir(a.out);
        throw e;
      });
      progress.stop();
      await writeSvg(
        join(a.out, 'loss.svg'),
        await lossCurveSvg([{ name: 'train loss', points: result.losses }], 'pretraining loss'),
      );
      if (result.interrupted)
        throw new InterruptedError(
          `interrupted after step ${result.stepsDone} of ${options.steps}; checkpoint ${result.checkpointDir}\nresume with: ${resumeCommand('--resume')}`,
        );
      const last = result.validation.at(-1);
      console.log(
        `pretrained ${result.model.parameterCount.toLocaleString()} parameters in ${result.seconds.toFixed(0)} s (${result.tokensPerSecond.toFixed(0)} tokens/s); validation perplexity ${last?.perplexity.toFixed(1)}; checkpoint ${result.finalDir}`,
      );
    });
}
