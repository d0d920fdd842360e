/**
 * @file `reprise predict`: tag raw text (one sentence per line, words separated by spaces) or a CoNLL file
 * with a fine-tuned labeler; writes CoNLL columns (word, gold if known, prediction). A sentence longer than the
 * checkpoint's subword cap is read whole, in overlapping windows (a note on stderr says how many).
 */
import type { Command } from 'commander';
import { type LabeledSentence, formatConll, readConll } from '../../data/index.ts';
import { readTextFile, writeFileAtomic } from '../../io/index.ts';
import { coverageNotes, predictWords } from '../../training/evaluate.ts';
import { encodeLabeled, labelVocab } from '../../training/labeled-batches.ts';
import { loadLabeler } from '../../training/labeler-checkpoint.ts';
import { deviceOption, intArg, openDevice } from '../options.ts';

export function registerPredict(program: Command): void {
  program
    .command('predict')
    .description('tag raw text or a CoNLL file with a fine-tuned labeler (CoNLL columns out)')
    .requiredOption('--model <dir>', 'fine-tuned checkpoint (e.g. runs/finetune/best)')
    .option('--input <file>', 'raw text: one sentence per line, words separated by spaces')
    .option(
      '--conll <file>',
      'a CoNLL file (words in column 0) or CoNLL-U file (words from FORM); its labels are printed as gold',
    )
    .option(
      '--label-column <n>',
      'gold label column of --conll (default: the last; UPOS (3) in CoNLL-U)',
      (v) => Number(v),
    )
    .option('--output <file>', 'write here instead of stdout')
    .option('--batch-size <n>', 'sentences per batch', intArg('--batch-size', 1), 64)
    .addOption(deviceOption())
    .action(async (a) => {
      if (!a.input === !a.conll) throw new Error('give exactly one of --input (raw text) or --conll');
      const device = await openDevice(a.device);
      const { labeler, tokenizer, config } = loadLabeler(a.model, device);
      const sentences: LabeledSentence[] = a.conll
        ? readConll(a.conll, { labelColumn: a.labelColumn })
        : rawSentences(a.input);
      const vocab = labelVocab(config.labels);
      const encoded = encodeLabeled(sentences, tokenizer, vocab, config);
      const { predictions, ...coverage } = await predictWords(labeler, encoded, vocab, a.batchSize);
      for (const note of coverageNotes(coverage, config.maxTokens, { scoring: false }))
        process.stderr.write(`predict: ${note}\n`);
      const text = formatConll(
        sentences.map((s, i) => ({
          words: s.words,
          gold: a.conll ? s.labels : undefined,
          pred: predictions[i]!,
        })),
      );
      if (a.output) writeFileAtomic(a.output, text);
      else process.stdout.write(text);
    });
}

function rawSentences(file: string): LabeledSentence[] {
  const sentences = readTextFile(file)
    .split('\n')
    .map((line) => line.trim().split(/\s+/).filter(Boolean))
    .filter((words) => words.length > 0)
    .map((words) => ({ words, labels: words.map(() => 'O') }));
  if (sentences.length === 0) throw new Error(`${file}: no text (expected one sentence per line)`);
  return sentences;
}
