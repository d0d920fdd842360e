/**
 * @file The interrupt contract of the long commands (pretrain, finetune, demo, experiment): the first Ctrl-C
 * lets the current step finish and a checkpoint be written, then the command throws `InterruptedError` with
 * how to resume, and `main` exits with code 130 (128 + SIGINT, the shell convention), so that
 * `reprise finetune … && reprise eval …` stops. A second Ctrl-C exits at once with 130 (see `loop.ts`).
 */

export { EXIT_INTERRUPTED } from '../training/loop.ts';

/** A command stopped by Ctrl-C after saving its work; the message says what was saved and how to go on. */
export class InterruptedError extends Error {
  override readonly name = 'InterruptedError';
}

/** `arg` quoted for a POSIX shell when it needs it. */
function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

/**
 * The command line that was run, changed to resume: `--overwrite` (which would move the run aside) dropped and
 * the option `resume` (a flag and its value, if any) appended unless already there, e.g.
 * `reprise pretrain --out r --resume`. Run through a package script (`pnpm reprise …`, `pnpm demo`), it
 * starts with `pnpm reprise`.
 */
export function resumeCommand(...resume: string[]): string {
  const args = process.argv.slice(2).filter((a) => a !== '--overwrite');
  const all = resume.length > 0 && !args.includes(resume[0]!) ? [...args, ...resume] : args;
  const viaScript = ['reprise', 'demo', 'experiment'].includes(process.env.npm_lifecycle_event ?? '');
  const program = viaScript ? 'pnpm reprise' : 'reprise';
  return [program, ...all.map(shellQuote)].join(' ');
}
