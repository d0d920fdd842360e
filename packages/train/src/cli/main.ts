/**
 * @file The `reprise` command: pretrain, finetune, eval, predict, demo, experiment. Ctrl-C during training saves a
 * checkpoint and exits cleanly (a second Ctrl-C exits at once).
 */
import { Command } from 'commander';
import { installInterruptHandler } from '../training/loop.ts';
import { registerDemo } from './commands/demo.ts';
import { registerEval } from './commands/evaluate.ts';
import { registerExperiment } from './commands/experiment.ts';
import { registerFinetune } from './commands/finetune.ts';
import { registerPredict } from './commands/predict.ts';
import { registerPretrain } from './commands/pretrain.ts';

const program = new Command('reprise')
  .description(
    'Train small transformers on hand-written WGSL kernels (Dawn) and label sequences with sequence repetition',
  )
  .showHelpAfterError();
for (const register of [
  registerPretrain,
  registerFinetune,
  registerEval,
  registerPredict,
  registerDemo,
  registerExperiment,
])
  register(program);

installInterruptHandler(() =>
  process.stderr.write('\nstopping after this step and saving a checkpoint (Ctrl-C again to quit now)\n'),
);

program.parseAsync().then(
  () => process.exit(0),
  (e: Error) => {
    process.stderr.write(`error: ${e.message}\n`);
    process.exit(1);
  },
);
