/**
 * @file Learning-rate schedules: functions from the step number (1-based) to the learning rate.
 */
export type Schedule = (step: number) => number;

export const constantSchedule =
  (lr: number): Schedule =>
  () =>
    lr;

function checkSteps(total: number, warmup: number): void {
  if (
    !(Number.isInteger(total) && total >= 1 && Number.isInteger(warmup) && warmup >= 0 && warmup <= total)
  ) {
    throw new Error(`schedule: need integers 0 ≤ warmup (${warmup}) ≤ total (${total}), total ≥ 1`);
  }
}

/** Linear warmup from 0 to `peak` over `warmup` steps, then linear decay to `floor` at `total`. */
export function warmupLinear(peak: number, warmup: number, total: number, floor = 0): Schedule {
  checkSteps(total, warmup);
  return (step) => {
    if (warmup > 0 && step <= warmup) return (peak * step) / warmup;
    const t = Math.min(1, (step - warmup) / Math.max(total - warmup, 1));
    return floor + (peak - floor) * (1 - t);
  };
}

/** Linear warmup, then cosine decay from `peak` to `floor` at `total`. */
export function warmupCosine(peak: number, warmup: number, total: number, floor = 0): Schedule {
  checkSteps(total, warmup);
  return (step) => {
    if (warmup > 0 && step <= warmup) return (peak * step) / warmup;
    const t = Math.min(1, (step - warmup) / Math.max(total - warmup, 1));
    return floor + (peak - floor) * 0.5 * (1 + Math.cos(Math.PI * t));
  };
}
