/**
 * @file `pnpm bench [suite…] [--full|--quick] [--json] [--device auto|vulkan|opengles] [--out DIR] [--no-report]`.
 * Runs the suites, prints a table (or JSON lines with --json) and writes the report (REPORT.md, SVG charts,
 * measurements.jsonl) under benchmarks/results/. Ctrl-C stops after the current measurement, prints what was
 * measured, writes no report (a previous one stays whole) and exits 130; a second Ctrl-C exits 130 at once.
 */
import { createRequire } from 'node:module';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEVICE_CHOICES, type DeviceChoice, WebGpuBackend, deviceChoiceFromEnv } from '@reprise/kernels';
import { EXIT_INTERRUPTED, installInterruptHandler, isInterrupted } from '@reprise/train';
import { benchAttention } from './attention.ts';
import { benchLora } from './lora.ts';
import { benchMatmul } from './matmul.ts';
import { benchModel } from './model.ts';
import { benchOps } from './ops.ts';
import { profileMain } from './profile.ts';
import { type Measurement, type SuiteOptions, type TargetResult, renderTable } from './report.ts';
import { writeReport } from './results.ts';
import { benchRows } from './rows.ts';
import { benchTrain } from './train.ts';

const SUITES: Record<string, (gpu: WebGpuBackend, o: SuiteOptions) => Promise<Measurement[]>> = {
  matmul: benchMatmul,
  attention: benchAttention,
  ops: benchOps,
  train: benchTrain,
  model: benchModel,
  rows: benchRows,
  lora: benchLora,
};
/** Suites that take minutes per case: run only when named. */
const ON_REQUEST = new Set(['lora']);

/** What each bench is compared with in the ratio column: ours, measured in the same run. */
const BASELINES: Record<string, string> = {
  matmul: 'reprise-webgpu',
  'attention fwd': 'reprise-webgpu-fused',
  'attention fwd+bwd': 'reprise-webgpu-fused',
  'layernorm fwd+bwd': 'reprise-webgpu',
  'cross-entropy fwd+bwd': 'reprise-webgpu',
  'train step': 'reprise-webgpu',
  'finetune step': 'reprise-webgpu',
};

const RESULTS_DIR = join(import.meta.dirname, '..', 'results');

const USAGE = `usage: pnpm bench [${Object.keys(SUITES).join('|')}]… [--full|--quick] [--json] [--device auto|vulkan|opengles] [--out DIR] [--no-report]
  (no suite)  every suite but lora: ours next to tfjs (webgpu, wasm, cpu), gpu.js and plain JS, a few minutes
  lora        LoRA fine-tuning of 124M (GPT-2) and 135M (Llama) shapes: minutes per model, run only when named
  --full      the whole grid (slower); --quick the smallest set
  --json      one JSON object per measurement on stdout instead of the table
  --device    WebGPU adapter (default: $REPRISE_DEVICE or auto)
  --out       where the report goes (default: benchmarks/results/<default|full|quick, or the suites run>)
  --no-report print only, write no report
  Ctrl-C      stop after the current measurement (no report is written); exit code 130
  pnpm bench profile --help   one training step by phase and by kernel (its own options)`;

/** Thrown from the progress callback after a measurement once Ctrl-C was pressed: unwinds the suite. */
class Interrupted extends Error {}

async function main(): Promise<number> {
  if (process.argv[2] === 'profile') return profileMain(process.argv.slice(3));
  const started = performance.now();
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      full: { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      device: { type: 'string' },
      out: { type: 'string' },
      'no-report': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const unknown = positionals.filter((p) => !(p in SUITES));
  if (unknown.length) {
    console.error(`unknown suite(s): ${unknown.join(', ')}\n${USAGE}`);
    return 2;
  }
  if (values.full && values.quick) {
    console.error(`--full and --quick exclude each other\n${USAGE}`);
    return 2;
  }
  const device = (values.device ?? deviceChoiceFromEnv()) as DeviceChoice;
  if (!DEVICE_CHOICES.includes(device) || device === 'cpu') {
    console.error(
      `--device must be one of auto, vulkan, opengles (the CPU twin is measured alongside), got ${device}`,
    );
    return 2;
  }
  // The same contract as `reprise`: the first Ctrl-C stops after this measurement, a second one at once (130).
  installInterruptHandler({
    onFirst: () => process.stderr.write('\nstopping after this measurement (Ctrl-C again to quit now)\n'),
    onSecond: () => process.stderr.write('\nquit (no report written)\n'),
  });
  const gpu = await WebGpuBackend.create(device);
  const log = (s: string) => (values.json ? process.stderr : process.stdout).write(`${s}\n`);
  const a = gpu.adapter;
  const adapter = `${a.description} (Dawn ${a.backend}, ${a.featureLevel}${a.isSoftware ? ', software' : ''})`;
  log(`adapter: ${adapter}`);
  const notes: string[] = [];
  const targets: TargetResult[] = [];
  const mode = values.full ? 'full' : values.quick ? 'quick' : 'default';
  // Every measurement as it is reported: what an interrupted run still shows.
  const measured: Measurement[] = [];
  const options: SuiteOptions = {
    mode,
    note: (line) => notes.push(line),
    target: (t) => targets.push(t),
    progress: (m) => {
      measured.push(m);
      if (values.json) console.log(JSON.stringify(m));
      else log(`  ${m.bench} ${m.label ?? m.shape.join('×')} ${m.impl}: ${m.error ?? summary(m)}`);
      if (isInterrupted()) throw new Interrupted();
    },
  };
  const suites = positionals.length ? positionals : Object.keys(SUITES).filter((s) => !ON_REQUEST.has(s));
  const results: Measurement[] = [];
  try {
    for (const name of suites) results.push(...(await SUITES[name]!(gpu, options)));
  } catch (e) {
    if (!(e instanceof Interrupted)) throw e;
    if (!values.json && measured.length > 0) log(renderTable(measured, BASELINES));
    process.stderr.write(
      `interrupted after ${measured.length} measurements; no report written (a previous report stays as it was)\n`,
    );
    gpu.destroy();
    return EXIT_INTERRUPTED;
  }
  if (!values.json) log(renderTable(results, BASELINES));
  for (const line of notes) log(line);
  for (const t of targets)
    log(`target ${t.name}: ${t.wanted}, measured ${t.measured}: ${t.met ? 'met' : `missed (${t.by})`}`);
  if (!values['no-report']) {
    const name = positionals.length
      ? `${positionals.join('+')}${mode === 'default' ? '' : `-${mode}`}`
      : mode;
    const dir = values.out ?? join(RESULTS_DIR, name);
    const stamp = {
      date: new Date().toISOString(),
      command: `pnpm bench ${process.argv.slice(2).join(' ')}`.trim(),
      adapter,
      machine: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${process.platform}`,
      versions: versions(),
      wallSeconds: (performance.now() - started) / 1000,
    };
    await writeReport(dir, results, targets, notes, stamp, BASELINES);
    log(`report: ${join(dir, 'REPORT.md')}`);
  }
  gpu.destroy();
  return results.some((r) => r.error) ? 1 : 0;
}

/** Node and the versions of the packages measured. */
function versions(): Record<string, string> {
  const here = createRequire(import.meta.url);
  const viaKernels = createRequire(here.resolve('@reprise/kernels'));
  return {
    node: process.versions.node,
    'webgpu (Dawn)': viaKernels('webgpu/package.json').version,
    '@tensorflow/tfjs': here('@tensorflow/tfjs/package.json').version,
    'gpu.js': here('gpu.js/package.json').version,
  };
}

/** The headline number of a measurement for the live progress line. */
function summary(m: Measurement): string {
  if (m.tokens_per_s !== undefined) return `${m.tokens_per_s.toFixed(0)} tokens/s`;
  if (m.gflops !== undefined) return `${m.gflops.toFixed(1)} GFLOP/s`;
  if (m.gbps !== undefined) return `${m.gbps.toFixed(2)} GB/s`;
  if (m.ms_per_sentence !== undefined) return `${m.ms_per_sentence.toFixed(2)} ms/sentence`;
  return `${m.median_ms?.toFixed(2)} ms`;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error((e as Error).message);
    process.exit(1);
  },
);
