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
  // An experiment grid's bar, created first so that it stays above each run's own bar.
  let gridBar: cliProgress.SingleBar | null = null;
  const runBars: cliProgress.SingleBar[] = [];
  let phase = '';
  let lastPlain = 0;
  const print = (line: string) => (tty ? multi.log(`${line}\n`) : process.stderr.write(`${line}\n`));
  const sink = (e: TrainingEvent) => {
    switch (e.type) {
      case 'phase':
        bar?.stop();
        phase = e.name;
        if (tty) {
          bar = multi.create(e.totalSteps, e.startStep, { phase, loss: '-', tps: '-' });
          runBars.push(bar);
        } else print(`${phase}: ${e.totalSteps} steps${e.startStep ? ` (from step ${e.startStep})` : ''}`);
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
      case 'grid': {
        const eta = e.etaSeconds === null ? '?' : formatDuration(e.etaSeconds);
        // `eta` is a built-in token of cli-progress (seconds): the grid's own estimate goes in `remaining`.
        const payload = { current: e.current, remaining: eta };
        if (!tty) {
          print(`[grid ${e.done}/${e.total} runs, ETA ${eta}] ${e.current}`);
          break;
        }
        // A new run starts: the finished run's bars go, so the terminal shows the grid and the current run.
        for (const old of runBars) multi.remove(old);
        runBars.length = 0;
        bar = null;
        if (gridBar) gridBar.update(e.done, payload);
        else
          gridBar = multi.create(e.total, e.done, payload, {
            format: 'grid  |{bar}| {value}/{total} runs | ETA {remaining} | {current}',
          });
        break;
      }
    }
  };
  return Object.assign(sink, { stop: () => multi.stop() });
}

function formatMetric(name: string, v: number): string {
  if (/accuracy|f1/.test(name)) return `${(100 * v).toFixed(2)}%`;
  return v.toFixed(name.includes('perplexity') ? 1 : 4);
}

/** 3725 s → "1 h 02 min", 95 s → "2 min". */
export function formatDuration(seconds: number): string {
  const minutes = Math.round(seconds / 60);
  return minutes >= 60
    ? `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`
    : `${minutes} min`;
}
