/**
 * @file `reprise experiment CONFIG`: runs an experiment grid (resumable: finished runs are skipped), then writes
 * its report from the run log. `--aggregate-only` rewrites the report from a log without training. A config whose
 * settings differ from those of the runs already in `--out` is refused unless `--rerun-changed` is given. Where
 * `--out` has no log yet but the report's published one exists (a fresh clone of a grid in progress), the run
 * starts from a copy of it.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { loadExperimentConfig } from '../../experiments/config.ts';
import { writeExperimentReport } from '../../experiments/report.ts';
import { RUNS_LOG, runExperiment } from '../../experiments/runner.ts';
import { InterruptedError, resumeCommand } from '../interrupt.ts';
import { deviceOption, openDevice } from '../options.ts';
import { terminalProgress } from '../progress.ts';

/**
 * The commit of the code that runs (with `-dirty` when tracked files differ from it), recorded with each run so
 * that a report can tell which code made which timing; null outside a git checkout.
 */
function codeCommit(): string | null {
  const git = (...args: string[]) =>
    execFileSync('git', args, {
      cwd: import.meta.dirname,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  try {
    const head = git('rev-parse', 'HEAD').trim();
    return git('status', '--porcelain', '--untracked-files=no').trim() ? `${head}-dirty` : head;
  } catch {
    return null;
  }
}

export function registerExperiment(program: Command): void {
  program
    .command('experiment')
    .description('run an experiment grid from a JSON config (resumable) and write its report')
    .argument('<config>', 'experiment file, e.g. experiments/default.json')
    .option('--out <dir>', 'run directory (default: runs/experiments/<config name>)')
    .option(
      '--report <file>',
      'markdown report; charts and the run log go to results/ beside it (default: <out>/RESULTS.md)',
    )
    .option('--aggregate-only', 'write the report from the log without training')
    .option(
      '--rerun-changed',
      'rerun runs (and backbones) made with other settings than the config (default: refuse, listing what changed); old records stay in the log as stale',
    )
    .option(
      '--log <file>',
      `run log to report from (default: <out>/${RUNS_LOG}, else the copy beside the report)`,
    )
    .addOption(deviceOption())
    .action(async (configPath: string, a) => {
      const config = loadExperimentConfig(configPath);
      const out = a.out ?? join('runs', 'experiments', config.name);
      const reportPath = a.report ?? join(out, 'RESULTS.md');
      let logPath = a.log ?? join(out, RUNS_LOG);
      const published = join(dirname(reportPath), 'results', RUNS_LOG);
      if (!a.log && !existsSync(logPath) && existsSync(published)) {
        if (a.aggregateOnly) logPath = published;
        else {
          // A fresh checkout resumes from the committed log: its finished runs are not run again.
          mkdirSync(out, { recursive: true });
          copyFileSync(published, logPath);
          process.stderr.write(`resuming from the published log ${published} (copied to ${logPath})\n`);
        }
      }
      if (!a.aggregateOnly) {
        const device = await openDevice(a.device);
        const progress = terminalProgress();
        const started = performance.now();
        let outcome: Awaited<ReturnType<typeof runExperiment>>;
        try {
          outcome = await runExperiment({
            device,
            config,
            outDir: out,
            rerunChanged: a.rerunChanged === true,
            code: codeCommit(),
            onEvent: progress,
          });
        } finally {
          progress.stop();
        }
        const minutes = ((performance.now() - started) / 60000).toFixed(1);
        process.stderr.write(
          `${outcome.ran} runs done${outcome.rerun ? ` (${outcome.rerun} rerun with changed settings)` : ''}, ${outcome.skipped} already in ${outcome.logPath}, ${minutes} min\n`,
        );
        if (outcome.failed.length)
          throw new Error(
            [
              `${outcome.failed.length} run${outcome.failed.length > 1 ? 's' : ''} failed (the others are in ${outcome.logPath}; run the command again to retry them; the report was not rewritten):`,
              ...outcome.failed.map((f) => `- ${f.id}: ${f.error}`),
            ].join('\n'),
          );
        // A partial grid does not replace the report (which may be a published one).
        if (outcome.interrupted)
          throw new InterruptedError(
            `interrupted: finished runs are kept in ${outcome.logPath} (a backbone's pretraining, and the fine-tuning run cut short, continue from their last checkpoints); the report was not rewritten\nresume with: ${resumeCommand()}`,
          );
        logPath = outcome.logPath;
      }
      const counts = await writeExperimentReport({ config, configPath, logPath, reportPath });
      const notes = [
        counts.stale ? `${counts.stale} stale records left out` : '',
        counts.legacy ? `${counts.legacy} records without a settings hash matched by task/variant/seed` : '',
      ].filter(Boolean);
      process.stderr.write(
        `report: ${reportPath} (${counts.done} of ${counts.planned} planned runs from ${logPath}${notes.length ? `; ${notes.join('; ')}` : ''})\n`,
      );
    });
}
