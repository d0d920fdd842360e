/**
 * @file Training events on the terminal: a progress bar per phase (steps, loss, tokens/s, ETA) with
 * evaluation and checkpoint lines printed above it; plain lines when stderr is not a terminal (CI, pipes).
 */
import cliProgress from 'cli-progress';
import type { EventSink, TrainingEvent } from '../training/events.ts';

export function terminalProgress(): EventSink & { stop(): void } {
  const tty = process.stderr.isTTY;
  const multi = new cliProgress.MultiBar(
    {
      stream: process.stderr,
      format: '{phase} |{bar}| {value}/{total} steps | loss {loss} | {tps} tok/s | ETA {eta_formatted}',
      hideCursor: true,
      clearOnComplete: false,
      etaBuffer: 50,
      noTTYOutput: false,
    },
    cliProgress.Presets.shades_classic,
  );
  let bar: cliProgress.SingleBar | null = null;
  let phase = '';
  let lastPlain = 0;
  const print = (line: string) => (tty ? multi.log(`${line}\n`) : process.stderr.write(`${line}\n`));
  const sink = (e: TrainingEvent) => {
    switch (e.type) {
      case 'phase':
        bar?.stop();
        phase = e.name;
        if (tty) bar = multi.create(e.totalSteps, e.startStep, { phase, loss: '-', tps: '-' });
        else print(`${phase}: ${e.totalSteps} steps${e.startStep ? ` (from step ${e.startStep})` : ''}`);
        break;
      case 'step':
        if (tty) bar?.update(e.step, { loss: e.loss.toFixed(3), tps: e.tokensPerSecond.toFixed(0) });
        else if (performance.now() - lastPlain > 10_000 || e.step === e.totalSteps) {
          lastPlain = performance.now();
          print(
            `  ${phase} step ${e.step}/${e.totalSteps} loss ${e.loss.toFixed(3)} ${e.tokensPerSecond.toFixed(0)} tok/s`,
          );
        }
        break;
      case 'eval':
        print(
          `  ${e.epoch !== undefined ? `epoch ${e.epoch}` : `step ${e.step}`}: ${Object.entries(e.metrics)
            .map(([k, v]) => `${k} ${formatMetric(k, v)}`)
            .join(', ')}`,
        );
        break;
      case 'checkpoint':
        if (e.reason !== 'periodic') print(`  checkpoint (${e.reason}): ${e.path}`);
        break;
      case 'log':
        print(`  ${e.message}`);
        break;
    }
  };
  return Object.assign(sink, { stop: () => multi.stop() });
}

function formatMetric(name: string, v: number): string {
  if (/accuracy|f1/.test(name)) return `${(100 * v).toFixed(2)}%`;
  return v.toFixed(name.includes('perplexity') ? 1 : 4);
}
