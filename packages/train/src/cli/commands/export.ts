/**
 * @file `reprise export --format hf --out DIR --model CHECKPOINT`: a model of this project (backbone or
 * fine-tuned tagger) or an imported Hugging Face model, written as a directory transformers' `from_pretrained`
 * loads (see hf/export.ts for which architecture, and when it is refused).
 */
import { Device } from '@reprise/core';
import { type Command, Option } from 'commander';
import { exportInputFrom } from '../../hf/export-source.ts';
import { exportHf } from '../../hf/export.ts';

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('write a model as a directory another framework loads (Hugging Face transformers)')
    .addOption(new Option('--format <format>', 'the format to write').choices(['hf']).makeOptionMandatory())
    .requiredOption(
      '--model <dir>',
      'a backbone (e.g. runs/pretrain/final), a fine-tuned labeler (e.g. runs/finetune/best) or a Hugging Face model directory',
    )
    .requiredOption(
      '--out <dir>',
      'the directory to write (replaced atomically if it holds an earlier export)',
    )
    .action(async (a) => {
      // Only host copies of the weights are needed: the CPU device, whatever adapter the machine has.
      const device = await Device.create({ device: 'cpu' });
      const input = await exportInputFrom(a.model, device);
      const { spec, files } = exportHf(a.out, input);
      const labels = spec.head.kind === 'token-classification' ? `, ${spec.head.labels.length} labels` : '';
      console.log(
        `${a.out}: ${spec.architecture} (${spec.layers} layers, hidden ${spec.dModel}${labels}); ${files.join(', ')}`,
      );
    });
}
