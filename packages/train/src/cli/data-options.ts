/**
 * @file The data options of the commands that read labeled data (finetune, eval): a built-in Brown task, or
 * CoNLL / CoNLL-U files the user brings, the label column, the file format and the span scheme.
 */
import { type Command, Option } from 'commander';
import { BROWN_TASKS, type BrownTask } from '../data/index.ts';
import { SCHEMES, type SchemeChoice } from '../metrics/index.ts';
import { type TaskData, brownTaskData, conllTaskData } from '../training/tasks.ts';
import { intArg } from './options.ts';

/** Data options shared by finetune and eval: a Brown task, or CoNLL / CoNLL-U files, and the span scheme. */
export function addDataOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--task <task>', 'built-in Brown task')
        .choices(BROWN_TASKS as unknown as string[])
        .default('pos-brown'),
    )
    .option('--train <file>', 'CoNLL or CoNLL-U training file (instead of --task)')
    .option('--dev <file>', 'CoNLL or CoNLL-U dev file')
    .option('--test <file>', 'CoNLL or CoNLL-U test file')
    .option(
      '--label-column <n>',
      'column holding the labels (0-based; negative counts from the end; default: the last, UPOS (3) in CoNLL-U)',
      (v) => Number(v),
    )
    .addOption(
      new Option(
        '--data-format <format>',
        'file format: auto reads .conllu files and CoNLL-U content as CoNLL-U',
      )
        .choices(['auto', 'conll', 'conllu'])
        .default('auto'),
    )
    .addOption(
      new Option(
        '--scheme <scheme>',
        'span label scheme: auto detects it from the labels (and says which); IOB1 and BIOES are scored as IOB2',
      )
        .choices(['auto', ...SCHEMES])
        .default('auto'),
    )
    .option('--train-limit <n>', 'use only the first n training sentences', intArg('--train-limit', 1));
}

export function taskFromOptions(a: {
  task: string;
  train?: string;
  dev?: string;
  test?: string;
  labelColumn?: number;
  dataFormat?: 'auto' | 'conll' | 'conllu';
  scheme?: SchemeChoice;
  trainLimit?: number;
}): TaskData {
  const task = readTask(a);
  // How the files were read and which span scheme applies: said before any work, on stderr.
  for (const note of task.notes ?? []) process.stderr.write(`${note}\n`);
  return task;
}

function readTask(a: Parameters<typeof taskFromOptions>[0]): TaskData {
  if (a.train || a.dev || a.test) {
    if (!a.train || !a.dev || !a.test) throw new Error('CoNLL data needs all of --train, --dev and --test');
    return conllTaskData(
      { train: a.train, dev: a.dev, test: a.test },
      { labelColumn: a.labelColumn, trainLimit: a.trainLimit, scheme: a.scheme, format: a.dataFormat },
    );
  }
  if (a.labelColumn !== undefined || (a.dataFormat ?? 'auto') !== 'auto')
    throw new Error('--label-column and --data-format apply to --train/--dev/--test files, not to --task');
  return brownTaskData(a.task as BrownTask, a.trainLimit, undefined, a.scheme);
}
