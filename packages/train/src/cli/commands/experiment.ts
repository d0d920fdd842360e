/**
 * @file `reprise experiment CONFIG`: runs an experiment grid (resumable: finished runs are skipped), then writes
 * its report from the run log. `--aggregate-only` rewrites the report from a log without training.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { loadExperimentConfig } from '../../experiments/config.ts';
import { writeExperimentReport } from '../../experiments/report.ts';
import { RUNS_LOG, runExperiment } from '../../experiments/runner.ts';
import { deviceOption, openDevice } from '../options.ts';
import { terminalProgress } from '../progress.ts';

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
      '--log <file>',
      `run log to report from (default: <out>/${RUNS_LOG}, else the copy beside the report)`,
    )
    .addOption(deviceOption())
    .action(async (configPath: string, a) => {
      const config = loadExperimentConfig(configPath);
      const out = a.out ?? join('runs', 'experiments', config.name);
      const reportPath = a.report ?? join(out, 'RESULTS.md');
      let logPath = a.log ?? join(out, RUNS_LOG);
      if (!a.log && !existsSync(logPath)) {
        const published = join(dirname(reportPath), 'results', RUNS_LOG);
        if (a.aggregateOnly && existsSync(published)) logPath = published;
      }
      if (!a.aggregateOnly) {
        const device = await openDevice(a.device);
        const progress = terminalProgress();
        const started = performance.now();
        const outcome = await runExperiment({ device, config, outDir: out, onEvent: progress });
        progress.stop();
        const minutes = ((performance.now() - started) / 60000).toFixed(1);
        process.stderr.write(
          `${outcome.ran} runs done, ${outcome.skipped} already in ${outcome.logPath}, ${minutes} min${outcome.interrupted ? '; interrupted: run the same command to continue' : ''}\n`,
        );
        logPath = outcome.logPath;
      }
      const { runs } = await writeExperimentReport({ config, configPath, logPath, reportPath });
      process.stderr.write(`report: ${reportPath} (${runs} runs from ${logPath})\n`);
    });
}
