/**
 * @file The `reprise` command: pretrain, finetune, eval, predict, demo, experiment, inspect, export. Exit codes: 0 done,
 * 1 an error (its message on stderr), 130 interrupted: the first Ctrl-C during training finishes the step, saves a
 * checkpoint and prints how to resume; a second Ctrl-C exits at once (see `interrupt.ts`).
 */
import { Command } from 'commander';
import { installInterruptHandler } from '../training/loop.ts';
import { registerDemo } from './commands/demo.ts';
import { registerEval } from './commands/evaluate.ts';
import { registerExperiment } from './commands/experiment.ts';
import { registerExport } from './commands/export.ts';
import { registerFinetune } from './commands/finetune.ts';
import { registerInspect } from './commands/inspect.ts';
import { registerPredict } from './commands/predict.ts';
import { registerPretrain } from './commands/pretrain.ts';
import { registerShip } from './commands/ship.ts';
import { EXIT_INTERRUPTED, InterruptedError } from './interrupt.ts';

const program = new Command('reprise')
  .description(
    'Train small transformers on hand-written WGSL kernels (Dawn) and label sequences with sequence repetition',
  )
  .showHelpAfterError()
  .addHelpText(
    'after',
    `
Ctrl-C during pretrain, finetune, demo or experiment finishes the current step, saves a checkpoint, prints the
command that resumes, and exits with code 130; a second Ctrl-C quits at once (the last checkpoint stays whole).
A run directory (--out) that holds a run is never overwritten: pass --resume to continue it or --overwrite to
move it aside (to <out>.replaced-<time>) and start over.
Exit codes: 0 done, 1 error (message on stderr), 130 interrupted.`,
  );
for (const register of [
  registerPretrain,
  registerFinetune,
  registerEval,
  registerPredict,
  registerDemo,
  registerExperiment,
  registerInspect,
  registerShip,
  registerExport,
])
  register(program);

// The training commands stop cleanly on Ctrl-C; eval and predict keep Node's default (exit at once, nothing to save).
const LONG_COMMANDS = new Set(['pretrain', 'finetune', 'demo', 'experiment']);
const installLongCommandInterrupts = () =>
  installInterruptHandler({
    onFirst: () =>
      process.stderr.write('\nstopping after this step and saving a checkpoint (Ctrl-C again to quit now)\n'),
    // The progress bar hides the cursor: give it back, since we exit mid-bar.
    onSecond: () =>
      process.stderr.write(
        `${process.stderr.isTTY ? '\x1b[?25h' : ''}\nquit without saving (the last checkpoint written stays as it was)\n`,
      ),
  });

program.hook('preAction', (_program, command) => {
  if (LONG_COMMANDS.has(command.name())) installLongCommandInterrupts();
});

program.parseAsync().then(
  () => process.exit(0),
  (e: Error) => {
    if (e instanceof InterruptedError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(EXIT_INTERRUPTED);
    }
    process.stderr.write(`error: ${e.message}\n`);
    process.exit(1);
  },
);
