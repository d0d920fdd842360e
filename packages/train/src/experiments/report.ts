/**
 * @file Writes an experiment's report: the markdown file, its charts and a copy of the run log in
 * `<report dir>/results/` (so the published log sits next to the report it produced), each file atomically.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { writeFileAtomic } from '../io/index.ts';
import { loadTokenizer } from '../tokenizer/load.ts';
import { tagFloor } from '../training/tasks.ts';
import { type AggregateOutput, aggregate, floorKey } from './aggregate.ts';
import { type ExperimentConfig, groupBudgets } from './config.ts';
import { RUNS_LOG, readExperimentLog } from './runner.ts';
import { givenBackboneDir } from './settings.ts';
import { experimentTaskData } from './task-data.ts';

export interface ReportInput {
  config: ExperimentConfig;
  configPath: string;
  /** The run log to read. */
  logPath: string;
  /** The markdown file to write (charts and the log copy go to `results/` beside it). */
  reportPath: string;
}

export async function writeExperimentReport(input: ReportInput): Promise<AggregateOutput['counts']> {
  const records = readExperimentLog(input.logPath);
  if (records.length === 0) throw new Error(`${input.logPath}: no runs recorded yet, nothing to report`);
  const dir = join(dirname(input.reportPath), 'results');
  const publishedLog = join(dir, RUNS_LOG);
  const discussionPath = join(dir, 'discussion.md');
  const { markdown, charts, counts } = await aggregate({
    config: input.config,
    records,
    logPath: relative(process.cwd(), publishedLog),
    configPath: relative(process.cwd(), input.configPath),
    reportPath: relative(process.cwd(), input.reportPath),
    floors: floors(input.config),
    multiSubword: multiSubwordShare(input.config),
    discussion: existsSync(discussionPath) ? readFileSync(discussionPath, 'utf8') : undefined,
  });
  mkdirSync(dir, { recursive: true });
  for (const [name, svg] of charts) writeFileAtomic(join(dir, name), svg);
  if (resolve(input.logPath) !== resolve(publishedLog))
    writeFileAtomic(publishedLog, readFileSync(input.logPath));
  writeFileAtomic(input.reportPath, markdown);
  return counts;
}

/** The most-frequent-label floor of every task and training budget in the grid, from the data the runs used. */
function floors(config: ExperimentConfig): Map<string, number> {
  const out = new Map<string, number>();
  for (const group of config.groups)
    for (const t of group.tasks)
      for (const budget of t === 'synthetic' ? [config.data.trainSentences] : groupBudgets(config, group)) {
        const key = floorKey(t, budget);
        if (out.has(key)) continue;
        const data = experimentTaskData(t, config.data, budget);
        out.set(key, tagFloor(data.train, data.test));
      }
  return out;
}

/**
 * Of the Brown test words (every Brown task reads the same test sentences), the share that the given decoder's
 * tokenizer splits into several subwords: the words of which a causal decoder labeling first subwords cannot
 * see the rest. Undefined without a Brown task, or when the grid pretrains its own backbones (their tokenizer
 * may not exist yet when the report is written).
 */
export function multiSubwordShare(config: ExperimentConfig): number | undefined {
  const dir = givenBackboneDir(config, 'decoder');
  const task = config.groups.flatMap((g) => g.tasks).find((t) => t !== 'synthetic');
  if (!dir || !task) return undefined;
  const tokenizer = loadTokenizer(dir);
  let words = 0;
  let split = 0;
  for (const s of experimentTaskData(task, config.data).test) {
    const { firstTokenOfWord, lastTokenOfWord } = tokenizer.encodeWords(s.words);
    words += s.words.length;
    split += s.words.filter((_, w) => lastTokenOfWord[w]! > firstTokenOfWord[w]!).length;
  }
  return split / words;
}
