/**
 * @file From the run log alone (and the config's grouping) to docs/RESULTS.md and its charts: per group a table
 * of mean ± 95% CI over seeds, and the answers to the research questions as paired differences between
 * methods (same seeds), each with its interval and whether it excludes zero.
 */
import {
  type BarRow,
  type GroupedBarRow,
  barChartSvg,
  groupedBarChartSvg,
  markdownTable,
} from '../io/index.ts';
import { FINETUNE_DEFAULTS } from '../training/finetune.ts';
import type { ExperimentConfig, ExperimentTask, RunGroup, TrainSentences, Variant } from './config.ts';
import { groupBudgets, variantKey, variantLabel } from './config.ts';
import { selectRecords } from './records.ts';
import type { ExperimentRecord, ProbeRecord, RunRecord } from './runner.ts';
import { decoderModel, settingsHash } from './settings.ts';
import { type Summary, formatPoints, pairedDifference, summarize } from './stats.ts';

type Metric = 'accuracy' | 'f1';

/** The key of a floor: a task at a training budget. */
export const floorKey = (task: ExperimentTask, budget: TrainSentences) => `${task} ${budget}`;

/** The Brown training budget a record was run with (records from before budgets were recorded: the default). */
const budgetOf = (r: RunRecord, fallback: TrainSentences): TrainSentences =>
  r.task === 'synthetic'
    ? fallback
    : ((r.settings?.data as { trainSentences?: TrainSentences } | undefined)?.trainSentences ?? fallback);

/**
 * Whether a method sees the whole word when it labels it: every method but a causal decoder labeling a
 * word's first subword (it cannot see the rest of its own word).
 */
export const seesWholeWord = (v: Variant) => !(v.method === 'causal' && v.labelSubword !== 'last');

/** The score a task is judged by: span F1 for the span task, accuracy otherwise. */
export const primaryMetric = (task: ExperimentTask): Metric => (task === 'names' ? 'f1' : 'accuracy');

const TASK_TITLES: Record<ExperimentTask, string> = {
  'pos-universal': 'POS, 12 universal tags',
  'pos-brown': 'POS, Brown tags',
  names: 'proper-name spans (F1)',
  synthetic: 'synthetic right-context task',
};

/** Scores by seed of one variant on one task. */
function scores(records: RunRecord[], task: string, v: Variant, metric: Metric): Map<number, number> {
  const key = variantKey(v);
  const out = new Map<number, number>();
  for (const r of records) {
    if (r.task !== task || variantKey(r.variant) !== key) continue;
    const value = metric === 'f1' ? r.test.f1 : r.test.accuracy;
    if (value !== null && Number.isFinite(value)) out.set(r.seed, value);
  }
  return out;
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN);
/** A measured number for a table: '—' where there is none yet. */
const fixed = (x: number, digits: number, suffix = '') =>
  Number.isFinite(x) ? `${x.toFixed(digits)}${suffix}` : '—';

/**
 * A variant's time on a task: wall seconds per epoch over all its runs; process CPU seconds per epoch over the
 * runs that measured it (which a paused or waiting process does not accrue, so it compares runs made at
 * different times fairly); inference wall time per sentence.
 */
function cost(records: RunRecord[], task: string, v: Variant) {
  const runs = records.filter((r) => r.task === task && variantKey(r.variant) === variantKey(v));
  const cpu = runs.flatMap((r) => (typeof r.cpuSecondsPerEpoch === 'number' ? [r.cpuSecondsPerEpoch] : []));
  return {
    secondsPerEpoch: mean(runs.map((r) => r.secondsPerEpoch)),
    cpuSecondsPerEpoch: mean(cpu),
    cpuRuns: cpu.length,
    msPerSentence: mean(runs.map((r) => r.inferenceMsPerSentence)),
  };
}

const signed = (s: Summary & { excludesZero: boolean }) => {
  if (!Number.isFinite(s.mean)) return '—';
  const m = `${s.mean >= 0 ? '+' : ''}${(100 * s.mean).toFixed(2)}`;
  return Number.isFinite(s.ci95) ? `${m} ± ${(100 * s.ci95).toFixed(2)}` : `${m} (n=${s.n})`;
};

const verdict = (s: Summary & { excludesZero: boolean }, better: string, worse: string) =>
  !Number.isFinite(s.ci95)
    ? 'too few seeds'
    : s.excludesZero
      ? s.mean > 0
        ? better
        : worse
      : 'within the CI';

/**
 * A group's table: one row per variant, per task the primary score (and NAME F1 for Brown POS), and the cost
 * on the group's first task (tasks differ in size, so a mean over them would compare nothing).
 */
function groupTable(group: RunGroup, records: RunRecord[], label: (v: Variant) => string): string {
  const head = ['variant'];
  for (const t of group.tasks) {
    head.push(`${t} ${primaryMetric(t) === 'f1' ? 'F1' : 'acc.'}`);
    if (t === 'pos-brown') head.push('pos-brown NAME F1');
  }
  const costTask = group.tasks[0];
  head.push(`s / epoch (${costTask})`, `ms / sentence (${costTask})`);
  const rows = group.variants.map((v) => {
    const row = [label(v)];
    for (const t of group.tasks) {
      row.push(formatPoints(summarize([...scores(records, t, v, primaryMetric(t)).values()])));
      if (t === 'pos-brown') row.push(formatPoints(summarize([...scores(records, t, v, 'f1').values()])));
    }
    const c = cost(records, costTask, v);
    row.push(fixed(c.secondsPerEpoch, 1), fixed(c.msPerSentence, 2));
    return row;
  });
  return markdownTable(head, rows);
}

/**
 * Test accuracy against the most-frequent-label floor for every task and method of a group: a method that sees
 * the whole word is expected above it (accuracy for every task, span F1 tasks included, since the floor is
 * an accuracy); a causal decoder labeling first subwords is reported against it too.
 */
function floorCheck(
  group: RunGroup,
  records: RunRecord[],
  label: (v: Variant) => string,
  floors: Map<string, number>,
  budget: TrainSentences,
): { lines: string[]; below: string[] } {
  const below: string[] = [];
  const rows = group.variants.map((v) => [
    `${label(v)}${seesWholeWord(v) ? '' : ' (first subword: cannot see its whole word)'}`,
    ...group.tasks.map((t) => {
      const s = summarize([...scores(records, t, v, 'accuracy').values()]);
      const floor = floors.get(floorKey(t, budget));
      if (!Number.isFinite(s.mean) || floor === undefined) return '—';
      const d = s.mean - floor;
      // The synthetic label is the next word's class: seeing one's own word is no help there.
      if (d <= 0 && seesWholeWord(v) && t !== 'synthetic') below.push(`${label(v)} on ${t}`);
      return `${d >= 0 ? '+' : ''}${(100 * d).toFixed(2)}`;
    }),
  ]);
  const lines = [
    '### Against the most-frequent-label floor (test accuracy minus floor, points)',
    '',
    markdownTable(
      [
        'method',
        ...group.tasks.map(
          (t) =>
            `${t} (floor ${(100 * (floors.get(floorKey(t, budget)) ?? Number.NaN)).toFixed(2)}${t === 'synthetic' ? '; the next word decides: r = 0 stays at chance' : ''})`,
        ),
      ],
      rows,
    ),
    '',
    below.length
      ? `**Below the floor although it sees the whole word:** ${below.join('; ')}.`
      : 'Every method that sees the whole word is above the floor on every Brown task (where it has runs).',
  ];
  return { lines, below };
}

/** The issue's targets for the best tagger on each Brown task (test accuracy; span F1 for names: not all-O). */
const TARGETS: Partial<Record<ExperimentTask, number>> = { 'pos-universal': 0.95, 'pos-brown': 0.91 };

/** The best mean score per Brown task over every variant with runs, against its target where there is one. */
function bestTaggers(runs: RunRecord[], label: (v: Variant) => string): string[] {
  const tasks = (['pos-universal', 'pos-brown', 'names'] as const).filter((t) =>
    runs.some((r) => r.task === t),
  );
  return tasks.map((t) => {
    const m = primaryMetric(t);
    const variants = [
      ...new Map(runs.filter((r) => r.task === t).map((r) => [variantKey(r.variant), r.variant])).values(),
    ];
    const [best] = variants
      .map((v) => ({ v, s: summarize([...scores(runs, t, v, m).values()]) }))
      .sort((a, b) => b.s.mean - a.s.mean);
    const target = TARGETS[t];
    const verdict =
      target === undefined
        ? best!.s.mean > 0
          ? 'a real span F1'
          : 'all-O'
        : `target ≥ ${(100 * target).toFixed(0)}: ${best!.s.mean >= target ? 'met' : 'missed'}`;
    return `${t} ${label(best!.v)} ${formatPoints(best!.s)} ${m === 'f1' ? 'span F1 ' : ''}(${verdict})`;
  });
}

/**
 * Question 6: per decoder the runs used (each probed once by the runner), its repeated-sequence score and
 * strongest twin + 1 head beside what SR r = 1 (positions continuing) gained over causal r = 0 on each task.
 */
function inductionSection(
  records: ExperimentRecord[],
  runs: RunRecord[],
): { lines: string[]; answer: string[] } {
  const hashOf = (r: RunRecord) => (r.settings ? settingsHash(r.settings.backbone) : undefined);
  const probes = records
    .filter((r): r is ProbeRecord => r.kind === 'probe')
    .filter((p) => runs.some((r) => hashOf(r) === p.settingsHash));
  if (probes.length === 0) return { lines: [], answer: [] };
  const plainSr1: Variant = { method: 'sr', r: 1 };
  // Against both r = 0 baselines: the first subword's gap also holds what a causal decoder cannot see of its own
  // word, which has nothing to do with finding the earlier copy.
  const baselines: [Variant, string][] = [
    [{ method: 'causal' }, 'causal r=0'],
    [{ method: 'causal', labelSubword: 'last' }, 'causal r=0, last subword'],
  ];
  const tasks = [...new Set(runs.map((r) => r.task))];
  // The gain that needs the earlier copy: SR r = 1 over r = 0 labeling the last subword (both see the whole word).
  const gain = (p: ProbeRecord, t: ExperimentTask, sr: Variant = plainSr1) => {
    const own = runs.filter((r) => hashOf(r) === p.settingsHash);
    const m = primaryMetric(t);
    return pairedDifference(scores(own, t, sr, m), scores(own, t, baselines[1]![0], m));
  };
  // With positions reset a token and its twin share a position: finding it needs no content match (a contrast
  // to continuing positions, shown where a decoder has such runs).
  const resetSr1: Variant = { method: 'sr', r: 1, positions: 'reset' };
  const withReset = (p: ProbeRecord) => {
    const measured = tasks.filter((t) => Number.isFinite(gain(p, t, resetSr1).mean));
    return measured.length
      ? `; with positions reset: ${measured.map((t) => `${t} ${signed(gain(p, t, resetSr1))}`).join(', ')}`
      : '';
  };
  const name = (p: ProbeRecord) => p.source.split('/').filter(Boolean).at(-1) ?? p.source;
  const answer = [
    '5. **Does the induction score explain when continuing positions work?** (SR r = 1 minus r = 0 labeling the last subword)',
    ...probes.map(
      (p) =>
        `   - ${name(p)} (${p.repeatFraction === null ? 'repeated text not recorded' : `${100 * p.repeatFraction}% of pretraining sentences repeated`}): repeated-sequence accuracy ${(100 * p.induction.second.accuracy).toFixed(1)}%, strongest twin + 1 head ${(100 * p.strongest.twinNext).toFixed(1)}%; ${tasks
          .map((t) => `${t} ${signed(gain(p, t))}`)
          .join(', ')}${withReset(p)}`,
    ),
  ];
  if (probes.length > 1) {
    // Does a higher score go with a larger gain on every task both decoders have runs on?
    const ordered = [...probes].sort((a, b) => a.induction.second.accuracy - b.induction.second.accuracy);
    const measured = tasks.filter((t) => ordered.every((p) => Number.isFinite(gain(p, t).mean)));
    const agrees = measured.filter((t) =>
      ordered.every((p, i) => i === 0 || gain(p, t).mean > gain(ordered[i - 1]!, t).mean),
    );
    if (measured.length)
      answer.push(
        `   - the higher the score, the larger the gain on ${agrees.length} of ${measured.length} tasks measured on every decoder (${measured.join(', ')})${agrees.length === measured.length ? '' : `: not on ${measured.filter((t) => !agrees.includes(t)).join(', ')}`}`,
      );
  }
  const rows = probes.map((p) => {
    const own = runs.filter((r) => hashOf(r) === p.settingsHash);
    const { first, second, chance } = p.induction;
    return [
      name(p),
      p.repeatFraction === null ? '—' : String(p.repeatFraction),
      `${(100 * second.accuracy).toFixed(1)}% (first half ${(100 * first.accuracy).toFixed(1)}%, chance ${(100 * chance.accuracy).toFixed(2)}%)`,
      `${second.loss.toFixed(2)} (first half ${first.loss.toFixed(2)})`,
      `layer ${p.strongest.layer + 1} head ${p.strongest.head + 1}: ${(100 * p.strongest.twinNext).toFixed(1)}% (${p.strongest.timesUniform.toFixed(1)}× even)`,
      ...tasks.flatMap((t) =>
        baselines.map(([base]) => {
          const m = primaryMetric(t);
          return signed(pairedDifference(scores(own, t, plainSr1, m), scores(own, t, base, m)));
        }),
      ),
    ];
  });
  const lines = [
    '## 6. Does the induction score explain when continuing positions work?',
    '',
    markdownTable(
      [
        'decoder',
        'repeated pretraining sentences',
        'repeated-sequence accuracy, second half',
        'loss, second half (nats)',
        'strongest twin + 1 head',
        ...tasks.flatMap((t) => baselines.map(([, name]) => `${t}: SR r=1 minus ${name} (points)`)),
      ],
      rows,
    ),
    '',
    'The score: next-token accuracy on the second half of random token sequences written twice (a decoder that',
    'finds the earlier copy by content predicts it; chance otherwise). The head: the most attention a last-copy',
    "token's head gives the token after its twin in the copy before, under SR r = 1 with continuing positions.",
    '',
  ];
  return { lines, answer };
}

/** Score against training sentences for each variant of the learning-curve group, with the floor at each size. */
function learningCurve(
  config: ExperimentConfig,
  group: RunGroup,
  records: RunRecord[],
  label: (v: Variant) => string,
  floors: Map<string, number> | undefined,
): { lines: string[]; answer: string[] } {
  const budgets = groupBudgets(config, group);
  const out = [`## 5. ${group.title}`, ''];
  const answer: string[] = [];
  for (const t of group.tasks) {
    const m = primaryMetric(t);
    const at = (b: TrainSentences) => records.filter((r) => budgetOf(r, config.data.trainSentences) === b);
    const rows = group.variants.map((v) => [
      label(v),
      ...budgets.map((b) => formatPoints(summarize([...scores(at(b), t, v, m).values()]))),
    ]);
    // Each method's gain over every one listed before it, at each budget: does it grow or shrink with data?
    for (const [i, v] of group.variants.entries())
      for (const base of group.variants.slice(0, i)) {
        const gains = budgets.map((b) =>
          signed(pairedDifference(scores(at(b), t, v, m), scores(at(b), t, base, m))),
        );
        rows.push([`${label(v)} minus ${label(base)}`, ...gains]);
        answer.push(
          `   - ${t}, ${label(v)} minus ${label(base)}: ${budgets.map((b, j) => `${b} sentences ${gains[j]}`).join(', ')}`,
        );
      }
    if (floors)
      rows.push([
        'most-frequent-label floor',
        ...budgets.map((b) => {
          const f = floors.get(floorKey(t, b));
          return f === undefined ? '—' : (100 * f).toFixed(2);
        }),
      ]);
    out.push(
      `### ${t} (${m === 'f1' ? 'span F1' : 'accuracy'})`,
      '',
      markdownTable(['method', ...budgets.map((b) => `${b} sentences`)], rows),
      '',
    );
  }
  if (answer.length) answer.unshift("7. **Does SR's gain grow or shrink with training data?** (points)");
  return { lines: out, answer };
}

/** How many runs were still improving when the epoch cap stopped them (nothing when none ran to the cap). */
function atTheCap(runs: RunRecord[], cap: number): string[] {
  const capped = runs.filter((r) => r.epochs === cap);
  if (capped.length === 0) return [];
  const last = capped.filter((r) => r.bestEpoch === cap).length;
  return [
    `- best dev epoch: the last one allowed (${cap}) in ${last} of the ${capped.length} runs that trained ${cap} epochs (dev was still improving when the cap stopped them)`,
  ];
}

/**
 * Which code made the runs (so that a timing is compared with one made by the same code) and how many were
 * resumed after a kill; nothing when no record says.
 */
function provenance(runs: RunRecord[]): string[] {
  const byCode = new Map<string, number>();
  for (const r of runs) {
    const key = r.code
      ? r.code.slice(0, 7) + (r.code.endsWith('-dirty') ? ' (with uncommitted changes)' : '')
      : '';
    byCode.set(key, (byCode.get(key) ?? 0) + 1);
  }
  if (byCode.size === 1 && byCode.has('')) return [];
  const parts = [...byCode].map(([code, n]) =>
    code ? `${n} at ${code}` : `${n} logged before the code was recorded (and before CPU time was measured)`,
  );
  const resumed = runs.filter((r) => (r.segments ?? 1) > 1).length;
  return [
    `- code: ${parts.join(', ')}${resumed ? `; ${resumed} resumed from a checkpoint after their process was stopped` : ''}`,
  ];
}

/** Every run in the report, in log order: its score, epochs, time (wall and CPU) and the code that made it. */
function runsAppendix(runs: RunRecord[]): string[] {
  const minutes = (s: number | undefined) => (s === undefined ? '—' : (s / 60).toFixed(1));
  return [
    '## Every run',
    '',
    markdownTable(
      ['run', 'test', 'best epoch / epochs', 'wall min', 'CPU min', 'processes', 'code'],
      runs.map((r) => {
        const m = primaryMetric(r.task);
        const score = m === 'f1' ? r.test.f1 : r.test.accuracy;
        return [
          r.id,
          score === null ? '—' : `${(100 * score).toFixed(2)}${m === 'f1' ? ' F1' : ''}`,
          `${r.bestEpoch} / ${r.epochs}`,
          minutes(r.wallSeconds),
          minutes(r.cpuSeconds),
          String(r.segments ?? 1),
          r.code?.slice(0, 7) ?? '—',
        ];
      }),
    ),
    '',
  ];
}

/** What the report says about records it left out or matched the old way (nothing when there are none). */
function logNotes(s: ReturnType<typeof selectRecords>): string[] {
  const notes: string[] = [];
  const records = (n: number) => `${n} record${n === 1 ? '' : 's'}`;
  if (s.legacy)
    notes.push(
      `${records(s.legacy)} without a settings hash (written before the log recorded each run's settings):`,
      'matched by task, variant and seed, their settings assumed to be those shown here.',
    );
  if (s.stale)
    notes.push(
      `${records(s.stale)} made with other settings than this config's (stale: superseded by a rerun, or from an earlier config) are left out.`,
    );
  if (s.unplanned) notes.push(`${records(s.unplanned)} of runs this config does not plan are left out.`);
  return notes.length ? ['', ...notes] : [];
}

export interface AggregateInput {
  config: ExperimentConfig;
  records: ExperimentRecord[];
  /** Where the log lives, relative to the report (for the reproduce section). */
  logPath: string;
  configPath: string;
  /** The report being written, relative to where the command runs (for the commands it prints). */
  reportPath: string;
  /**
   * Test accuracy of the most frequent label per word from the same training sentences, per task and
   * training budget (`floorKey`).
   */
  floors?: Map<string, number>;
  /** The share of Brown test words that the decoder's tokenizer splits into several subwords. */
  multiSubword?: number;
  /** Hand-written discussion to include after the answers (markdown), if any. */
  discussion?: string;
}

export interface AggregateOutput {
  markdown: string;
  /** Chart file name → SVG text (linked from the markdown as `results/<name>`). */
  charts: Map<string, string>;
  /** Planned runs, those with a record in the report, and the records left out as stale. */
  counts: { planned: number; done: number; stale: number; legacy: number };
}

export async function aggregate(input: AggregateInput): Promise<AggregateOutput> {
  const { config } = input;
  // Only records made with this config's settings (see records.ts): never a config above another's numbers.
  const selection = selectRecords(config, input.records, { acceptLegacy: true });
  const { pretrains } = selection;
  const defaultBudget = config.data.trainSentences;
  // Every table but the learning curve reads the runs at the config's own training budget.
  const allRuns = selection.runs;
  const atDefaultBudget = allRuns.filter((r) => budgetOf(r, defaultBudget) === defaultBudget);
  // Runs of a group with its own decoder share their variants with the main runs: kept apart, so that no
  // table mixes two backbones (they appear in their group's table and beside their decoder's induction score).
  const ownDecoderIds = new Set(selection.planned.filter((p) => p.decoder).map((p) => p.id));
  const runs = atDefaultBudget.filter((r) => !ownDecoderIds.has(r.id));
  const idsOf = (g: RunGroup) =>
    new Set(selection.planned.filter((p) => p.groups.includes(g.name)).map((p) => p.id));
  const runsOf = (g: RunGroup) => {
    const ids = idsOf(g);
    return atDefaultBudget.filter((r) => ids.has(r.id));
  };
  const layers = decoderModel(config).layers;
  const labelOf = (v: Variant) =>
    runs.find((r) => variantKey(r.variant) === variantKey(v))?.label ?? variantLabel(v, layers);
  const charts = new Map<string, string>();
  const main = config.groups.find((g) => g.name === 'main');
  const out: string[] = [];
  const command = `pnpm reprise experiment ${input.configPath} --report ${input.reportPath}`;
  const planned = selection.planned.length;
  const done = allRuns.length;
  const wall =
    allRuns.reduce((a, r) => a + r.wallSeconds, 0) + pretrains.reduce((a, r) => a + r.wallSeconds, 0);
  // The plain answers by question (a heading line, then details), gathered from the sections below and
  // printed above them in question order.
  const answers = new Map<number, string[]>();
  const answer = (q: number, ...lines: string[]) => answers.set(q, [...(answers.get(q) ?? []), ...lines]);

  out.push(
    '# Results: sequence repetition on small decoders trained here',
    '',
    `Generated from \`${input.logPath}\` (${done} of ${planned} planned fine-tuning runs, ${pretrains.length} pretraining runs) by`,
    `\`${command} --aggregate-only\`; every number below is recomputed from that log.`,
    ...logNotes(selection),
    'Scores are test-set points (accuracy, or span F1 where marked), mean ± half-width of the 95% confidence',
    'interval over seeds (Student t, n − 1 degrees of freedom). Differences between two methods are paired by',
    'seed (same data order and head initialization) and called significant when their interval excludes 0.',
    '',
    '## Setup',
    '',
    ...pretrains.map(
      (p) =>
        `- ${p.backbone}: ${p.parameters.toLocaleString('en-US')} parameters, ${p.steps} pretraining steps (${p.backbone === 'decoder' ? 'causal LM' : 'masked LM'}), validation loss ${p.validationLoss?.toFixed(3) ?? '—'} (perplexity ${p.validationLoss === null ? '—' : Math.exp(p.validationLoss).toFixed(1)}), ${p.tokensPerSecond.toFixed(0)} tokens/s, ${((p.source ? (p.pretrainingSeconds ?? 0) : p.wallSeconds) / 60).toFixed(1)} min${p.source ? ` (shipped: ${p.source.replace(/^.*?(backbones\/)/, '$1')})` : ''}`,
    ),
    `- data: ${config.data.trainSentences} training / ${config.data.devSentences} dev / ${config.data.testSentences} test Brown sentences (evenly spaced through each split); synthetic: ${config.data.synthetic.train} / ${config.data.synthetic.dev} / ${config.data.synthetic.test} sentences, ${config.data.synthetic.classes} classes (chance ${(100 / config.data.synthetic.classes).toFixed(0)}%)`,
    `- fine-tuning: ${JSON.stringify(config.finetune)}; seeds ${config.seeds.join(', ')}`,
    ...atTheCap(allRuns, config.finetune.epochs ?? FINETUNE_DEFAULTS.epochs),
    ...(input.floors
      ? [
          `- floors (test accuracy of the most frequent label of each word in the same training sentences; unknown words get the most frequent label): ${[
            ...input.floors,
          ]
            .map(([k, f]) => {
              // The synthetic task's floors are keyed by the config's budget but use its own sentences.
              const [task, budget] = k.split(' ');
              const n = task === 'synthetic' ? config.data.synthetic.train : budget;
              return `${task} (${n} sentences) ${(100 * f).toFixed(2)}`;
            })
            .join(', ')}`,
        ]
      : []),
    ...(input.multiSubword === undefined
      ? []
      : [
          `- Brown test words that the decoder's tokenizer splits into several subwords (of which a causal r = 0 labeling the first subword cannot see the rest): ${(100 * input.multiSubword).toFixed(1)}%`,
        ]),
    `- adapter: ${runs[0]?.adapter ?? pretrains[0]?.adapter ?? '—'}`,
    ...provenance(allRuns),
    `- measured wall time (sum over the runs${pretrains.some((p) => p.wallSeconds > 0) ? ", this grid's pretraining included" : '; the given backbones were pretrained beforehand, in the times above'}): ${(wall / 3600).toFixed(2)} h for ${done} of ${planned} planned runs${done < planned ? ' (**the grid is incomplete**: missing cells show —)' : ''}`,
    '',
  );

  if (main) {
    const causal = main.variants.find((v) => v.method === 'causal' && v.labelSubword !== 'last');
    const causalLast = main.variants.find((v) => v.method === 'causal' && v.labelSubword === 'last');
    // SR runs of the main table, and plain SR r = 2, 4, 8 from any group (they may run on fewer tasks and seeds).
    const plainSr = (v: Variant) =>
      v.method === 'sr' && v.layer === undefined && !v.separator && v.lastCopyOnly !== false;
    const srs = main.variants.filter((v) => v.method === 'sr');
    const plainSrOf = (r: number) =>
      config.groups
        .flatMap((g) => g.variants)
        .find((v) => plainSr(v) && v.positions === undefined && (v.r ?? 1) === r);
    for (const r of [2, 4, 8]) {
      const v = plainSrOf(r);
      if (v && !srs.some((s) => variantKey(s) === variantKey(v))) srs.push(v);
    }
    const r8 = plainSrOf(8);
    // Whether some group runs variant v on task t (r = 2, 4, 8 run on fewer tasks than the main table).
    const plannedFor = (v: Variant, t: ExperimentTask) =>
      config.groups.some(
        (g) => g.tasks.includes(t) && g.variants.some((x) => variantKey(x) === variantKey(v)),
      );
    out.push('## 1. Does SR (r ≥ 1) beat the causal decoder?', '');
    if (causal && srs.length) {
      const rows: string[][] = [];
      for (const t of main.tasks) {
        const m = primaryMetric(t);
        for (const v of srs.filter((s) => plannedFor(s, t))) {
          const row = [t, labelOf(v)];
          for (const base of [causal, causalLast]) {
            if (!base) continue;
            const d = pairedDifference(scores(runs, t, v, m), scores(runs, t, base, m));
            row.push(signed(d), verdict(d, 'SR better', 'SR worse'));
          }
          rows.push(row);
        }
      }
      const sr1 = srs[0];
      for (const t of main.tasks) {
        const m = primaryMetric(t);
        const score = (v: Variant) => formatPoints(summarize([...scores(runs, t, v, m).values()]));
        if (!sr1 || !Number.isFinite(summarize([...scores(runs, t, sr1, m).values()]).mean)) continue;
        const against = [causal, causalLast].flatMap((base) => {
          if (!base) return [];
          const d = pairedDifference(scores(runs, t, sr1, m), scores(runs, t, base, m));
          return [`${labelOf(base)} ${score(base)}: ${signed(d)}, ${verdict(d, 'SR better', 'SR worse')}`];
        });
        answer(1, `   - ${t}: ${labelOf(sr1)} ${score(sr1)}; against ${against.join('; against ')}`);
      }
      answers.get(1)?.unshift('1. **Does SR beat r = 0?** (points, paired by seed)');
      const head = ['task', 'method', 'minus causal r=0, first subword (points)', 'verdict'];
      if (causalLast) head.push('minus causal r=0, last subword (points)', 'verdict');
      out.push(markdownTable(head, rows), '');
    }
    out.push('## 2. Does r = 8 degrade against r = 2?', '');
    const r2 = plainSrOf(2);
    if (r2 && r8) {
      const tasks = main.tasks.filter((t) => plannedFor(r8, t) && plannedFor(r2, t));
      const rows = tasks.map((t) => {
        const m = primaryMetric(t);
        const d = pairedDifference(scores(runs, t, r8, m), scores(runs, t, r2, m));
        return [t, signed(d), verdict(d, 'r = 8 better', 'r = 8 worse (outside the CI)')];
      });
      out.push(markdownTable(['task', 'r=8 minus r=2 (points)', 'verdict'], rows), '');
      const both = tasks.flatMap((t) => {
        const m = primaryMetric(t);
        const [a, b] = [r8, r2].map((v) => summarize([...scores(runs, t, v, m).values()]));
        if (!Number.isFinite(a!.mean) || !Number.isFinite(b!.mean)) return [];
        const d = pairedDifference(scores(runs, t, r8, m), scores(runs, t, r2, m));
        return [
          `${t}: r = 8 ${formatPoints(a!)}, r = 2 ${formatPoints(b!)}, difference ${signed(d)}, ${verdict(d, 'r = 8 better', 'r = 8 worse')}`,
        ];
      });
      answer(
        2,
        `2. **Does r = 8 degrade against r = 2** (every r keeps the same subwords of every sentence)? ${both.length ? both.join('; ') : 'not measured yet'}.`,
      );
    }
    out.push('## 3. How do SR, full and middle unmasking and the encoder rank?', '');
    const contenders = main.variants.filter((v) => v.method !== 'causal');
    const rows = main.tasks.map((t) => {
      const m = primaryMetric(t);
      const ranked = contenders
        .map((v) => ({ v, s: summarize([...scores(runs, t, v, m).values()]) }))
        .filter((x) => Number.isFinite(x.s.mean))
        .sort((a, b) => b.s.mean - a.s.mean);
      return [t, ranked.map((x) => `${labelOf(x.v)} ${formatPoints(x.s)}`).join(' > ')];
    });
    out.push(markdownTable(['task', 'ranking by mean (best first)'], rows), '');
    answer(
      3,
      '3. **How do SR, unmasking and the encoder rank?** (by mean; intervals in the tables below)',
      ...rows.filter((r) => r[1]).map(([t, ranking]) => `   - ${t}: ${ranking}`),
    );
    out.push(`### Scores of every method (${main.title})`, '', groupTable(main, runs, labelOf), '');
    if (input.floors) {
      const { lines, below } = floorCheck(main, runs, labelOf, input.floors, defaultBudget);
      out.push(...lines, '');
      answer(
        6,
        `6. **Above the floors?** ${below.length ? `no: ${below.join('; ')} (below the most-frequent-label floor although it sees the whole word)` : 'every method of the main table that sees the whole word is above the most-frequent-label floor on every Brown task it has runs on'}. Best tagger: ${bestTaggers(runs, labelOf).join('; ')}.`,
      );
    }
    for (const t of main.tasks) {
      const m = primaryMetric(t);
      const bars: BarRow[] = main.variants.map((v) => {
        const s = summarize([...scores(runs, t, v, m).values()]);
        return { group: labelOf(v), value: 100 * s.mean, error: 100 * s.ci95 };
      });
      const name = `main-${t}.svg`;
      charts.set(
        name,
        await barChartSvg(bars, {
          title: TASK_TITLES[t],
          yLabel: `test ${m === 'f1' ? 'span F1' : 'accuracy'} (%)`,
          width: 640,
        }),
      );
      out.push(`![${t}](results/${name})`);
    }
    out.push('');
    // The compute cost of SR itself: time against r, on the one task every r runs on (the main table's first).
    const byR = [causal, ...srs].filter((v): v is Variant => v !== undefined);
    const costTask = main.tasks[0];
    if (byR.length > 1 && costTask) {
      const costs = byR.map((v) => ({ v, ...cost(runs, costTask, v) }));
      const base = costs[0]!;
      // The training ratio from CPU time once every row measured it (immune to pauses), else wall time.
      const byCpu = costs.every((c) => c.cpuRuns > 0);
      const ratio = (c: (typeof costs)[number]) =>
        byCpu ? c.cpuSecondsPerEpoch / base.cpuSecondsPerEpoch : c.secondsPerEpoch / base.secondsPerEpoch;
      out.push(
        `## The compute cost of SR (${costTask}, ${defaultBudget} training sentences)`,
        '',
        markdownTable(
          [
            'method',
            'wall s / epoch',
            'CPU s / epoch (runs)',
            `training × r=0 (${byCpu ? 'CPU' : 'wall'})`,
            'inference ms / sentence',
            '× r=0',
          ],
          costs.map((c) => [
            labelOf(c.v),
            fixed(c.secondsPerEpoch, 1),
            c.cpuRuns ? `${fixed(c.cpuSecondsPerEpoch, 0)} (${c.cpuRuns})` : '—',
            fixed(ratio(c), 2),
            fixed(c.msPerSentence, 2),
            fixed(c.msPerSentence / base.msPerSentence, 2),
          ]),
        ),
        '',
        'Wall time per epoch is the mean over every run; CPU time (all threads of the process, the software',
        "adapter's included) only over runs that measured it, which a paused or waiting process does not accrue.",
        `The training ratio uses ${byCpu ? 'CPU time: every row has it' : 'wall time: some row has no CPU time yet'}.`,
        '',
      );
      const name = 'sr-cost.svg';
      charts.set(
        name,
        await groupedBarChartSvg(
          costs.flatMap((c) => [
            { group: labelOf(c.v), series: 'training (× r=0 per epoch)', value: ratio(c) },
            {
              group: labelOf(c.v),
              series: 'inference (× r=0 per sentence)',
              value: c.msPerSentence / base.msPerSentence,
            },
          ]),
          { title: `time of SR relative to r = 0 (${costTask})`, yLabel: '× the time of r = 0' },
        ),
      );
      out.push(`![SR cost](results/${name})`, '');
    }
  }

  const early = config.groups.find((g) => g.name === 'early-exit');
  if (early) {
    out.push('## 4. Early exit: how close is each layer to full depth, at what saving?', '');
    const rows: string[][] = [];
    const bars: GroupedBarRow[] = [];
    for (const t of early.tasks) {
      const m = primaryMetric(t);
      const full = (v: Variant) =>
        early.variants.find(
          (w) => w.method === v.method && (w.r ?? 1) === (v.r ?? 1) && (w.layer ?? layers) === layers,
        );
      for (const v of early.variants) {
        const top = full(v);
        const s = summarize([...scores(runs, t, v, m).values()]);
        const d = top ? pairedDifference(scores(runs, t, v, m), scores(runs, t, top, m)) : null;
        const c = cost(runs, t, v);
        const ct = top ? cost(runs, t, top) : null;
        rows.push([
          t,
          labelOf(v),
          formatPoints(s),
          d && top !== v ? signed(d) : '',
          fixed(c.secondsPerEpoch, 1),
          ct ? fixed(ct.secondsPerEpoch / c.secondsPerEpoch, 2, '×') : '',
          fixed(c.msPerSentence, 2),
          ct ? fixed(ct.msPerSentence / c.msPerSentence, 2, '×') : '',
        ]);
        bars.push({ group: `ℓ=${v.layer ?? layers}`, series: `${t} SR r=${v.r ?? 1}`, value: 100 * s.mean });
      }
      // The answer: per method, the shallowest head within a point of full depth (by mean), and its saving.
      for (const top of new Set(early.variants.map(full))) {
        if (!top) continue;
        const topScore = summarize([...scores(runs, t, top, m).values()]).mean;
        const shallower = early.variants
          .filter((v) => full(v) === top && v !== top)
          .map((v) => ({ v, s: summarize([...scores(runs, t, v, m).values()]).mean }))
          .filter((x) => Number.isFinite(x.s))
          .sort((a, b) => (a.v.layer ?? layers) - (b.v.layer ?? layers));
        if (!Number.isFinite(topScore) || shallower.length === 0) continue;
        const kept = shallower.find((x) => topScore - x.s <= 0.01);
        const [ct, c] = [cost(runs, t, top), kept ? cost(runs, t, kept.v) : null];
        answer(
          4,
          kept && c
            ? `   - ${t}, ${labelOf(top)}: the head on layer ${kept.v.layer}/${layers} keeps ${(100 * kept.s).toFixed(2)} of ${(100 * topScore).toFixed(2)}, training ${fixed(ct.secondsPerEpoch / c.secondsPerEpoch, 2, '×')} and inference ${fixed(ct.msPerSentence / c.msPerSentence, 2, '×')} faster (wall time)`
            : `   - ${t}, ${labelOf(top)}: no shallower head measured so far is within a point of full depth (${(100 * topScore).toFixed(2)}): ${shallower.map((x) => `layer ${x.v.layer} ${(100 * x.s).toFixed(2)}`).join(', ')}`,
        );
      }
    }
    out.push(
      markdownTable(
        [
          'task',
          'method',
          'score',
          'minus full depth',
          's / epoch',
          'training speed-up',
          'ms / sentence',
          'inference speed-up',
        ],
        rows,
      ),
      '',
    );
    const measured = answers.get(4) ?? [];
    answers.set(4, [
      `4. **How much does early exit keep, at what saving?**${measured.length ? '' : ' not measured yet (no layer below full depth has runs).'}`,
      ...measured,
    ]);
    charts.set(
      'early-exit.svg',
      await groupedBarChartSvg(bars, { title: early.title, yLabel: 'test score (%)' }),
    );
    out.push('![early exit](results/early-exit.svg)', '');
  }

  const curve = config.groups.find((g) => g.name === 'learning-curve');
  if (curve) {
    const ids = idsOf(curve);
    const curveRuns = allRuns.filter((r) => ids.has(r.id));
    const { lines, answer: gains } = learningCurve(config, curve, curveRuns, labelOf, input.floors);
    out.push(...lines, '');
    if (gains.length) answer(7, ...gains);
  }

  const induction = inductionSection(input.records, atDefaultBudget);
  out.push(...induction.lines);
  if (induction.answer.length) answer(5, ...induction.answer);

  const ablations = config.groups.filter(
    (g) => g.name !== 'main' && g.name !== 'early-exit' && g.name !== 'learning-curve',
  );
  if (ablations.length) out.push('## Ablations the paper did not run', '');
  for (const g of ablations) {
    const own = runsOf(g);
    out.push(`### ${g.title}`, '', groupTable(g, own, labelOf), '');
    const [base, ...others] = g.variants;
    if (g.epochs !== undefined) {
      // An epoch-cap group: each variant against itself under the grid's cap, and where its best epoch fell.
      const cap = config.finetune.epochs ?? FINETUNE_DEFAULTS.epochs;
      const rows = g.tasks.flatMap((t) =>
        g.variants.map((v) => {
          const m = primaryMetric(t);
          const d = pairedDifference(scores(own, t, v, m), scores(runs, t, v, m));
          const best = own
            .filter((r) => r.task === t && variantKey(r.variant) === variantKey(v))
            .map((r) => `${r.bestEpoch} of ${r.epochs}`);
          return [
            t,
            `${labelOf(v)}: ${g.epochs} epochs minus ${cap}`,
            signed(d),
            verdict(d, 'more epochs better', 'more epochs worse'),
            best.join(', ') || '—',
          ];
        }),
      );
      out.push(markdownTable(['task', 'difference', 'points', 'verdict', 'best epoch (by seed)'], rows), '');
    } else if (base && others.length) {
      const rows = g.tasks.flatMap((t) =>
        others.map((v) => {
          const m = primaryMetric(t);
          const d = pairedDifference(scores(own, t, v, m), scores(own, t, base, m));
          return [t, `${labelOf(v)} minus ${labelOf(base)}`, signed(d), verdict(d, 'better', 'worse')];
        }),
      );
      out.push(markdownTable(['task', 'difference', 'points', 'verdict'], rows), '');
    }
  }

  out.push(...runsAppendix(allRuns));
  out.push(
    '## How to reproduce',
    '',
    '```',
    `${command}                   # the grid (the default one is also \`pnpm experiment\`)`,
    `${command} --aggregate-only  # this file again, from the log alone`,
    '```',
    '',
    'The run is resumable: run the same command again after an interruption and finished runs are skipped, if',
    'their recorded settings hash matches, while the run that was cut short continues from its last checkpoint',
    '(written at least every ten minutes); runs made with other settings are never mixed in (the command refuses',
    'and lists what changed; `--rerun-changed` reruns them, leaving the old records in the log as stale).',
    '',
  );
  // The answers and the hand-written discussion go first, before the setup and the tables they come from.
  const answerLines = [...answers.keys()].sort((a, b) => a - b).flatMap((q) => answers.get(q)!);
  out.splice(
    out.indexOf('## Setup'),
    0,
    ...(answerLines.length
      ? [
          `## Answers (measured: ${done} of ${planned} planned runs)`,
          '',
          'Each line is recomputed from the log, like every table below; "n=1" marks a single seed (no interval).',
          '',
          ...answerLines,
          '',
        ]
      : []),
    ...(input.discussion ? [input.discussion.trim(), ''] : []),
  );
  const counts = { planned, done, stale: selection.stale, legacy: selection.legacy };
  return { markdown: out.join('\n'), charts, counts };
}
