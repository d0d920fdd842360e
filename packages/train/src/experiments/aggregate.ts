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

function cost(records: RunRecord[], task: string, v: Variant) {
  const runs = records.filter((r) => r.task === task && variantKey(r.variant) === variantKey(v));
  return {
    secondsPerEpoch: mean(runs.map((r) => r.secondsPerEpoch)),
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
): string[] {
  const below: string[] = [];
  const rows = group.variants.map((v) => [
    `${label(v)}${seesWholeWord(v) ? '' : ' (first subword: cannot see its whole word)'}`,
    ...group.tasks.map((t) => {
      const s = summarize([...scores(records, t, v, 'accuracy').values()]);
      const floor = floors.get(floorKey(t, budget));
      if (!Number.isFinite(s.mean) || floor === undefined) return '—';
      const d = s.mean - floor;
      if (d <= 0 && seesWholeWord(v)) below.push(`${label(v)} on ${t}`);
      return `${d >= 0 ? '+' : ''}${(100 * d).toFixed(2)}`;
    }),
  ]);
  return [
    '### Against the most-frequent-label floor (test accuracy minus floor, points)',
    '',
    markdownTable(
      [
        'method',
        ...group.tasks.map(
          (t) => `${t} (floor ${(100 * (floors.get(floorKey(t, budget)) ?? Number.NaN)).toFixed(2)})`,
        ),
      ],
      rows,
    ),
    '',
    below.length
      ? `**Below the floor although it sees the whole word:** ${below.join('; ')}.`
      : 'Every method that sees the whole word is above the floor on every task (where it has runs).',
  ];
}

/**
 * Question 6: per decoder the runs used (each probed once by the runner), its repeated-sequence score and
 * strongest twin + 1 head beside what SR r = 1 (positions continuing) gained over causal r = 0 on each task.
 */
function inductionSection(records: ExperimentRecord[], runs: RunRecord[]): string[] {
  const hashOf = (r: RunRecord) => (r.settings ? settingsHash(r.settings.backbone) : undefined);
  const probes = records
    .filter((r): r is ProbeRecord => r.kind === 'probe')
    .filter((p) => runs.some((r) => hashOf(r) === p.settingsHash));
  if (probes.length === 0) return [];
  const plainSr1: Variant = { method: 'sr', r: 1 };
  // Against both r = 0 baselines: the first subword's gap also holds what a causal decoder cannot see of its own
  // word, which has nothing to do with finding the earlier copy.
  const baselines: [Variant, string][] = [
    [{ method: 'causal' }, 'causal r=0'],
    [{ method: 'causal', labelSubword: 'last' }, 'causal r=0, last subword'],
  ];
  const tasks = [...new Set(runs.map((r) => r.task))];
  const rows = probes.map((p) => {
    const own = runs.filter((r) => hashOf(r) === p.settingsHash);
    const { first, second, chance } = p.induction;
    return [
      p.source.split('/').filter(Boolean).at(-1) ?? p.source,
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
  return [
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
}

/** Score against training sentences for each variant of the learning-curve group, with the floor at each size. */
function learningCurve(
  config: ExperimentConfig,
  group: RunGroup,
  records: RunRecord[],
  label: (v: Variant) => string,
  floors: Map<string, number> | undefined,
): string[] {
  const budgets = groupBudgets(config, group);
  const out = [`## 5. ${group.title}`, ''];
  for (const t of group.tasks) {
    const m = primaryMetric(t);
    const at = (b: TrainSentences) => records.filter((r) => budgetOf(r, config.data.trainSentences) === b);
    const rows = group.variants.map((v) => [
      label(v),
      ...budgets.map((b) => formatPoints(summarize([...scores(at(b), t, v, m).values()]))),
    ]);
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
  return out;
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
  /** Hand-written discussion to include under question 3 (markdown), if any. */
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
    `- adapter: ${runs[0]?.adapter ?? pretrains[0]?.adapter ?? '—'}`,
    `- measured wall time (sum over the runs, pretraining included): ${(wall / 3600).toFixed(2)} h for ${done} of ${planned} planned runs${done < planned ? ' (**the grid is incomplete**: missing cells show —)' : ''}`,
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
    if (input.discussion) out.push(input.discussion.trim(), '');
    out.push(`### Scores of every method (${main.title})`, '', groupTable(main, runs, labelOf), '');
    if (input.floors) out.push(...floorCheck(main, runs, labelOf, input.floors, defaultBudget), '');
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
      const costs = byR.map((v) => {
        const c = cost(runs, costTask, v);
        return { v, epoch: c.secondsPerEpoch, infer: c.msPerSentence };
      });
      const base = costs[0]!;
      out.push(
        `## The compute cost of SR (${costTask}, ${defaultBudget} training sentences)`,
        '',
        markdownTable(
          ['method', 's / epoch', '× r=0', 'inference ms / sentence', '× r=0'],
          costs.map((c) => [
            labelOf(c.v),
            fixed(c.epoch, 1),
            fixed(c.epoch / base.epoch, 2),
            fixed(c.infer, 2),
            fixed(c.infer / base.infer, 2),
          ]),
        ),
        '',
      );
      const name = 'sr-cost.svg';
      charts.set(
        name,
        await groupedBarChartSvg(
          costs.flatMap((c) => [
            { group: labelOf(c.v), series: 'training (× r=0 per epoch)', value: c.epoch / base.epoch },
            { group: labelOf(c.v), series: 'inference (× r=0 per sentence)', value: c.infer / base.infer },
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
    out.push(...learningCurve(config, curve, curveRuns, labelOf, input.floors), '');
  }

  out.push(...inductionSection(input.records, atDefaultBudget));

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

  out.push(
    '## How to reproduce',
    '',
    '```',
    `${command}                   # the grid (the default one is also \`pnpm experiment\`)`,
    `${command} --aggregate-only  # this file again, from the log alone`,
    '```',
    '',
    'The run is resumable: run the same command again after an interruption and finished runs are skipped, if',
    'their recorded settings hash matches; runs made with other settings are never mixed in (the command refuses',
    'and lists what changed; `--rerun-changed` reruns them, leaving the old records in the log as stale).',
    '',
  );
  const counts = { planned, done, stale: selection.stale, legacy: selection.legacy };
  return { markdown: out.join('\n'), charts, counts };
}
