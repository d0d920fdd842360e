/**
 * @file `pnpm bench profile`: one training step taken apart by phase and by kernel, for the pretraining step of
 * `bench train` and one SR fine-tuning step (profile-steps.ts). Works on every adapter (GLES has no
 * timestamp-query: kernels are timed by replaying each recorded dispatch on its own); on an adapter with
 * timestamp-query the per-kernel GPU times of a profiled step are shown beside the replay as a cross-check.
 * Prints terminal tables, or markdown with --markdown; --out FILE also writes the markdown to FILE.
 */
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { Device } from '@reprise/core';
import { DEVICE_CHOICES, type DeviceChoice, WebGpuBackend, deviceChoiceFromEnv } from '@reprise/kernels';
import {
  type KernelTime,
  PHASES,
  type PhaseSample,
  aggregate,
  kernelKey,
  kernelTimes,
  medianPhases,
  runStep,
} from './profile-measure.ts';
import { type Section, type TableData, ms, pct, renderMarkdown, renderTerminal } from './profile-render.ts';
import { CASES, type CaseName, type StepCase, buildCase } from './profile-steps.ts';

export const PROFILE_USAGE = `usage: pnpm bench profile [--case pretrain|finetune|all] [--steps N] [--reps N] [--markdown] [--out FILE] [--device auto|vulkan|opengles] [--no-timestamps]
  --case        which step (default all: the GPT pretraining step of bench train, then one SR r = 1 fine-tuning step)
  --steps       timed steps per measurement, after 2 warm-up steps (default 5)
  --reps        replays of each recorded dispatch (default 5; the median counts)
  --markdown    print markdown instead of terminal tables
  --out FILE    also write the markdown to FILE
  --no-timestamps  skip the timestamp-query cross-check (Vulkan)`;

interface Options {
  steps: number;
  reps: number;
}

interface CaseProfile {
  c: StepCase;
  asTrained: PhaseSample[];
  drained: PhaseSample[];
  times: KernelTime[];
  roundTripMs: number;
  tracedStepMs: number;
  timestamps: { kernel: string; count: number; totalMs: number }[] | null;
}

async function profileCase(gpu: WebGpuBackend, name: CaseName, o: Options): Promise<CaseProfile> {
  const c = buildCase(name, new Device(gpu));
  try {
    for (let i = 0; i < 2; i++) await runStep(gpu, c, false); // compiles the pipelines
    const asTrained: PhaseSample[][] = [];
    const drained: PhaseSample[][] = [];
    // Interleaved, so that a busy spell of the machine hits both.
    for (let i = 0; i < o.steps; i++) {
      asTrained.push(await runStep(gpu, c, false));
      drained.push(await runStep(gpu, c, true));
    }
    const { times, roundTripMs, tracedStep } = await kernelTimes(gpu, c, o.reps);
    return {
      c,
      asTrained: medianPhases(asTrained),
      drained: medianPhases(drained),
      times,
      roundTripMs,
      tracedStepMs: tracedStep.reduce((a, p) => a + p.wallMs, 0),
      timestamps: null,
    };
  } finally {
    c.dispose();
  }
}

/** Per-kernel GPU time of one step from timestamp queries, on a second device opened with profiling on. */
async function timestampCase(choice: Exclude<DeviceChoice, 'cpu'>, name: CaseName) {
  const prof = await WebGpuBackend.create(choice, { profile: true });
  try {
    if (!prof.profiling) return null;
    const c = buildCase(name, new Device(prof));
    try {
      for (let i = 0; i < 2; i++) await runStep(prof, c, false);
      await prof.profile(); // drops the warm-up steps' timings
      await runStep(prof, c, false);
      return await prof.profile();
    } finally {
      c.dispose();
    }
  } finally {
    prof.destroy();
  }
}

const row = (p: PhaseSample, label: string, kernelMs: string): string[] => [
  label,
  ms(p.wallMs),
  ms(p.hostMs),
  ms(p.submitMs),
  ms(p.waitMs),
  kernelMs,
  String(Math.round(p.dispatches)),
  String(Math.round(p.submits)),
  String(Math.round(p.allocations)),
  String(Math.round(p.newBuffers)),
];

function caseSection(p: CaseProfile, o: Options): Section {
  const step = p.asTrained.find((x) => x.phase === 'step')!;
  const drainedSum = p.drained.find((x) => x.phase === 'step')!;
  const kernelSum = p.times.reduce((a, t) => a + t.ms, 0);
  const byPhase = (phase: string) =>
    p.times.filter((t) => t.dispatch.phase === phase).reduce((a, t) => a + t.ms, 0);
  const phaseRows = PHASES.map((phase) => {
    const x = p.drained.find((y) => y.phase === phase)!;
    return row(x, phase, phase === 'readback' ? '—' : ms(byPhase(phase)));
  });
  const tables: TableData[] = [
    {
      title: `By phase (ms; device drained after each phase; medians of ${o.steps} steps)`,
      head: [
        'phase',
        'wall',
        'host (JS)',
        'in submit',
        'waiting',
        'kernels (replay)',
        'dispatches',
        'submits',
        'allocations',
        'new buffers',
      ],
      rows: [
        ...phaseRows,
        row(drainedSum, 'Σ phases (drained)', ms(kernelSum)),
        row(step, 'step as trained (no drains)', ms(kernelSum)),
      ],
    },
    {
      title: `By kernel (each recorded dispatch replayed on its own: ${o.reps} copies in one pass, median of 3 submits, per copy; in-place kernels (AdamW) one per submit, median of ${o.reps}; less the share of an empty dispatch's ${ms(p.roundTripMs)} ms round trip; % of the step as trained)`,
      head: ['kernel', 'calls', 'ms', '% of step', 'ms/call', 'GFLOP/s', 'GB/s (bytes bound / time)'],
      rows: aggregate(p.times, kernelKey).map((r) => [
        r.key,
        String(r.calls),
        ms(r.ms),
        pct(r.ms, step.wallMs),
        (r.ms / r.calls).toFixed(3),
        r.flops !== undefined && r.ms > 0 ? (r.flops / r.ms / 1e6).toFixed(1) : '',
        r.flops === undefined && r.ms > 0 ? (r.bytes / r.ms / 1e6).toFixed(2) : '',
      ]),
    },
    {
      title: 'Slowest launches (kernel and shapes, same replay)',
      head: ['launch', 'phase', 'calls', 'ms', '% of step'],
      rows: aggregate(p.times, (d) => `${d.describe}\u0000${d.phase}`)
        .slice(0, 12)
        .map((r) => {
          const [launch, phase] = r.key.split('\u0000');
          return [launch!, phase!, String(r.calls), ms(r.ms), pct(r.ms, step.wallMs)];
        }),
    },
  ];
  if (p.timestamps) {
    const replay = new Map(aggregate(p.times, (d) => d.kernel).map((r) => [r.key, r]));
    tables.push({
      title:
        'Cross-check: timestamp queries (one step on a second device, each dispatch in its own pass) vs replay, by kernel name',
      head: ['kernel', 'calls', 'GPU ms (timestamps)', 'replay ms'],
      rows: p.timestamps.map((t) => [
        t.kernel,
        String(t.count),
        ms(t.totalMs),
        replay.has(t.kernel) ? ms(replay.get(t.kernel)!.ms) : '—',
      ]),
    });
  }
  const tokensPerS = (p.c.tokens * 1000) / step.wallMs;
  return {
    heading: p.c.label,
    lines: [
      `- Step as trained (no drains), median of ${o.steps}: **${ms(step.wallMs)} ms** (${tokensPerS.toFixed(0)} tokens/s over ${p.c.tokens} tokens): host JS (graph + encoding) ${ms(step.hostMs)} ms (${((1000 * step.hostMs) / Math.max(1, step.dispatches)).toFixed(0)} µs per dispatch), inside \`queue.submit\` ${ms(step.submitMs)} ms, waiting for the loss ${ms(step.waitMs)} ms; ${Math.round(step.dispatches)} dispatches, ${Math.round(step.submits)} submits, ${Math.round(step.allocations)} buffer allocations.`,
      `- Kernels replayed one at a time: Σ ${ms(kernelSum)} ms = ${pct(kernelSum, step.wallMs)} of the step; step − Σ kernels = **${ms(step.wallMs - kernelSum)} ms** ${
        step.wallMs >= kernelSum
          ? 'of dispatch, submit and host overhead (plus whatever isolated replays miss, such as cache warmth).'
          : '(negative: the kernels replayed alone took longer than in the step; noise, or cache warmth they lose alone — the overhead is below what this run can resolve).'
      }`,
      ...(step.submitMs > 0.5 * step.wallMs
        ? [
            `- ${pct(step.submitMs, step.wallMs)} of the step is spent inside \`queue.submit\`: on this adapter Dawn runs the commands there, synchronously, so the host's recording and the device's work never overlap; \`waiting\` is what is left after the last submit.`,
          ]
        : []),
      `- The phases drained one by one sum to ${ms(drainedSum.wallMs)} ms (${drainedSum.wallMs >= step.wallMs ? '+' : ''}${pct(drainedSum.wallMs - step.wallMs, step.wallMs)} against the step; noise can outweigh the drains): a drain stops the device from running while the host records the next phase, so the phase rows are shares, not parts of the real step.`,
      `- With the dispatch recorder on, one step took ${ms(p.tracedStepMs)} ms (off: ${ms(step.wallMs)} ms, the median above); off, the recorder costs a null check per dispatch.`,
    ],
    tables,
  };
}

export async function profileMain(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      case: { type: 'string', default: 'all' },
      steps: { type: 'string', default: '5' },
      reps: { type: 'string', default: '5' },
      markdown: { type: 'boolean', default: false },
      out: { type: 'string' },
      device: { type: 'string' },
      'no-timestamps': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(PROFILE_USAGE);
    return 0;
  }
  const cases = values.case === 'all' ? [...CASES] : [values.case as CaseName];
  if (!cases.every((c) => (CASES as readonly string[]).includes(c))) {
    console.error(`--case must be pretrain, finetune or all, got ${values.case}\n${PROFILE_USAGE}`);
    return 2;
  }
  const o = { steps: Number(values.steps), reps: Number(values.reps) };
  if (!(Number.isInteger(o.steps) && o.steps >= 1 && Number.isInteger(o.reps) && o.reps >= 1)) {
    console.error(
      `--steps and --reps must be integers ≥ 1, got ${values.steps} and ${values.reps}\n${PROFILE_USAGE}`,
    );
    return 2;
  }
  const choice = (values.device ?? deviceChoiceFromEnv()) as DeviceChoice;
  if (!DEVICE_CHOICES.includes(choice) || choice === 'cpu') {
    console.error(`--device must be one of auto, vulkan, opengles, got ${choice}`);
    return 2;
  }
  const log = (s: string) => (values.markdown ? process.stderr : process.stdout).write(`${s}\n`);
  const gpu = await WebGpuBackend.create(choice);
  const a = gpu.adapter;
  const adapter = `${a.description} (Dawn ${a.backend}${a.isSoftware ? ', software' : ''})`;
  const command = `pnpm bench profile ${argv.join(' ')}`.trim();
  const header = [
    `Reproduce: \`${command}\``,
    `Adapter: ${adapter}; machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}; ${new Date().toISOString()}.`,
  ];
  log(header.join('\n'));
  const sections: Section[] = [];
  try {
    for (const name of cases) {
      log(`profiling ${name}…`);
      const p = await profileCase(gpu, name, o);
      if (!values['no-timestamps'] && a.backend !== 'opengles')
        p.timestamps = await timestampCase(choice, name);
      sections.push(caseSection(p, o));
    }
  } finally {
    gpu.destroy();
  }
  const notes = [
    a.backend === 'opengles'
      ? 'GLES has no timestamp-query: kernel times come from replay only.'
      : 'Timestamp queries put each dispatch in its own pass: their totals are a cross-check of the replay, not step time.',
    'Replayed kernels run alone, on buffers already written by the recorded step (data-dependent kernels see the same indices: uploads are replayed in order; in-place kernels get their inputs restored before each repetition).',
    'This machine is noisy (other jobs, 2 cores shared with llvmpipe and dawn.node polling): compare numbers from one run only.',
  ];
  const markdown = `${header.join('  \n')}\n\n${renderMarkdown(sections)}\n${notes.map((n) => `- ${n}`).join('\n')}\n`;
  if (values.markdown) process.stdout.write(markdown);
  else log(`${renderTerminal(sections)}\n\n${notes.join('\n')}`);
  if (values.out) {
    writeFileSync(values.out, markdown);
    log(`markdown written to ${values.out}`);
  }
  return 0;
}
