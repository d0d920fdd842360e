/**
 * @file `reprise eval`: score a fine-tuned labeler on a split of its task (or CoNLL files).
 */
import { type Command, Option } from 'commander';
import type { SpanF1Result } from '../../metrics/index.ts';
import { coverageNotes, evaluate } from '../../training/evaluate.ts';
import { encodeLabeled, labelVocab } from '../../training/labeled-batches.ts';
import { loadLabeler } from '../../training/labeler-checkpoint.ts';
import { addDataOptions, taskFromOptions } from '../data-options.ts';
import { deviceOption, intArg, openDevice } from '../options.ts';

export function registerEval(program: Command): void {
  addDataOptions(
    program
      .command('eval')
      .description('evaluate a fine-tuned labeler: token accuracy and span F1')
      .requiredOption('--model <dir>', 'fine-tuned checkpoint (e.g. runs/finetune/best)'),
  )
    .addOption(new Option('--split <split>', 'which split to score').choices(['dev', 'test']).default('test'))
    .option('--batch-size <n>', 'sentences per batch', intArg('--batch-size', 1), 64)
    .addOption(deviceOption())
    .action(async (a) => {
      const device = await openDevice(a.device);
      const { labeler, tokenizer, config } = loadLabeler(a.model, device);
      const task = taskFromOptions(a);
      const sentences = a.split === 'dev' ? task.dev : task.test;
      const vocab = labelVocab(config.labels);
      const encoded = encodeLabeled(sentences, tokenizer, vocab, config);
      const result = await evaluate(labeler, sentences, encoded, vocab, {
        batchSize: a.batchSize,
        spanView: task.spanView,
        scheme: task.scheme?.scheme,
      });
      for (const note of coverageNotes(result, config.maxTokens, { scoring: true }))
        process.stderr.write(`eval: ${note}\n`);
      // Name what was scored: the file itself for CoNLL data (the task is named after --train).
      const scored = a.train ? `${a.split === 'dev' ? a.dev : a.test} ${a.split}` : `${task.name} ${a.split}`;
      console.log(
        `${scored}: ${sentences.length} sentences, accuracy ${(100 * result.accuracy).toFixed(2)}%${result.spans ? `, span F1 strict ${result.scheme!.toUpperCase()} ${spanScores(result.spans)}, lenient ${spanScores(result.lenientSpans!)}` : ''}, ${result.sentencesPerSecond.toFixed(0)} sentences/s`,
      );
    });
}

/** `F1 (P …, R …)` in percent. */
function spanScores(s: SpanF1Result): string {
  const pct = (x: number) => (100 * x).toFixed(2);
  return `${pct(s.f1)} (P ${pct(s.precision)}, R ${pct(s.recall)})`;
}
