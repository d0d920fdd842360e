/**
 * @file `pnpm bench [suite…] [--full] [--json] [--device auto|vulkan|opengles]`.
 * Suites: matmul, attention, rows (LayerNorm, cross-entropy, AdamW vs copy), model (SR cost, early exit). Prints a table (or JSON lines with --json), medians after warm-up.
 */
import { parseArgs } from 'node:util';
import { DEVICE_CHOICES, type DeviceChoice, WebGpuBackend, deviceChoiceFromEnv } from '@reprise/kernels';
import { benchAttention } from './attention.ts';
import { benchMatmul } from './matmul.ts';
import { benchModel } from './model.ts';
import { type Measurement, type SuiteOptions, renderTable } from './report.ts';
import { benchRows } from './rows.ts';

const SUITES: Record<string, (gpu: WebGpuBackend, o: SuiteOptions) => Promise<Measurement[]>> = {
  matmul: benchMatmul,
  attention: benchAttention,
  rows: benchRows,
  model: benchModel,
};

/** What each bench is compared with in the table's last column. */
const BASELINES: Record<string, string> = {
  matmul: 'reprise-cpu-twin',
  'attention fwd': 'reprise-webgpu-unfused',
  'attention fwd+bwd': 'reprise-webgpu-unfused',
};

const USAGE = `usage: pnpm bench [${Object.keys(SUITES).join('|')}]… [--full] [--quick] [--json] [--device auto|vulkan|opengles]
  --full    the whole grid (slower); default is a quick set
  --quick   the smallest set (the demo)
  --json    one JSON object per measurement on stdout instead of the table
  --device  WebGPU adapter (default: $REPRISE_DEVICE or auto)`;

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      full: { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      device: { type: 'string' },
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
  const device = (values.device ?? deviceChoiceFromEnv()) as DeviceChoice;
  if (!DEVICE_CHOICES.includes(device) || device === 'cpu') {
    console.error(
      `--device must be one of auto, vulkan, opengles (the CPU twin is measured alongside), got ${device}`,
    );
    return 2;
  }
  const gpu = await WebGpuBackend.create(device);
  const log = (s: string) => (values.json ? process.stderr : process.stdout).write(`${s}\n`);
  log(
    `adapter: ${gpu.adapter.description} (${gpu.adapter.backend}, ${gpu.adapter.featureLevel}${gpu.adapter.isSoftware ? ', software' : ''})`,
  );
  const notes: string[] = [];
  const options: SuiteOptions = {
    mode: values.full ? 'full' : values.quick ? 'quick' : 'default',
    note: (line) => notes.push(line),
    progress: (m) => {
      if (values.json) console.log(JSON.stringify(m));
      else log(`  ${m.bench} ${m.label ?? m.shape.join('×')} ${m.impl}: ${m.error ?? summary(m)}`);
    },
  };
  const results: Measurement[] = [];
  for (const name of positionals.length ? positionals : Object.keys(SUITES)) {
    const suite = SUITES[name]!;
    results.push(...(await suite(gpu, options)));
  }
  if (!values.json) log(renderTable(results, BASELINES));
  for (const line of notes) log(line);
  gpu.destroy();
  return results.some((r) => r.error) ? 1 : 0;
}

/** The headline number of a measurement for the live progress line. */
function summary(m: Measurement): string {
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
