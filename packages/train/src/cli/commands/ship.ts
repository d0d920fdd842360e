/**
 * @file `reprise ship-backbone RUN OUT`: copies a finished pretraining run's backbone into a directory meant to
 * be committed (as `backbones/decoder` and `backbones/encoder` are), with `pretraining.json` and `loss.svg`.
 */
import type { Command } from 'commander';
import { shipBackbone } from '../../training/ship-backbone.ts';
import { deviceOption, openDevice } from '../options.ts';

export function registerShip(program: Command): void {
  program
    .command('ship-backbone')
    .description(
      "copy a finished pretraining run's backbone (config, weights, tokenizer) to a directory to commit, with its facts and validation loss",
    )
    .argument('<run>', 'the pretraining run directory (the --out of `reprise pretrain`)')
    .argument('<out>', 'the directory to write (replaced atomically if it exists)')
    .requiredOption(
      '--command <text>',
      'the exact command that ran the pretraining, recorded beside the weights',
    )
    .addOption(deviceOption())
    .action(async (run: string, out: string, a) => {
      const device = await openDevice(a.device);
      const facts = await shipBackbone({ device, runDir: run, outDir: out, command: a.command });
      console.log(
        `${out}: ${facts.kind}, ${facts.parameters.toLocaleString('en-US')} parameters, ${facts.steps} steps, ${(facts.tokensSeen / 1e6).toFixed(2)}M tokens in ${(facts.wallSeconds / 60).toFixed(1)} min; validation loss ${facts.validationLoss.toFixed(4)} (perplexity ${Math.exp(facts.validationLoss).toFixed(1)})`,
      );
    });
}
