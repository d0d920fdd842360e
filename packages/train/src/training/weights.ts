/**
 * @file Parameters ↔ host tensors (what checkpoints hold), and in-memory snapshots for keeping the best epoch.
 */
import type { AdamWState, Device, Tensor } from '@reprise/core';
import { type HostTensor, hostTensor } from '../io/index.ts';

export async function toHost(params: Record<string, Tensor>): Promise<Record<string, HostTensor>> {
  const out: Record<string, HostTensor> = {};
  for (const [name, t] of Object.entries(params)) {
    const data = await t.hostData();
    out[name] = hostTensor([...t.shape], t.dtype === 'i32' ? Int32Array.from(data) : Float32Array.from(data));
  }
  return out;
}

/** Trainable tensors from host tensors. */
export function fromHost(device: Device, host: Record<string, HostTensor>): Record<string, Tensor> {
  return Object.fromEntries(
    Object.entries(host).map(([name, h]) => [name, device.tensor(h.data, h.shape).setRequiresGrad()]),
  );
}

/** Overwrites `params` in place (keeping tensor identity, so optimizers stay attached) from host tensors. */
export function assignFromHost(params: Record<string, Tensor>, host: Record<string, HostTensor>): void {
  for (const [name, t] of Object.entries(params)) {
    const h = host[name];
    if (!h) throw new Error(`weights: '${name}' is missing from the saved weights`);
    t.assign(t.device.tensor(h.data, h.shape));
  }
}

/**
 * The optimizer's state as host tensors `<param name>.m`, `<param name>.v` and `step`. After the first step
 * every parameter gets both moments, zeros for one that has had no gradient (AdamW starts its moments at zero
 * and skips a parameter without gradient, so this resumes identically), so that resume can require them all
 * and tell a lost moment from one never made. `sizes` gives each parameter's element count for those zeros.
 */
export function optimizerToHost(
  state: AdamWState,
  names: readonly string[],
  sizes?: readonly number[],
): Record<string, HostTensor> {
  const out: Record<string, HostTensor> = { step: hostTensor([1], Int32Array.of(state.step)) };
  state.moments.forEach((mv, i) => {
    const n = mv?.m.length ?? (state.step > 0 ? sizes?.[i] : undefined);
    if (n === undefined) return;
    out[`${names[i]}.m`] = hostTensor([n], mv?.m ?? new Float32Array(n));
    out[`${names[i]}.v`] = hostTensor([n], mv?.v ?? new Float32Array(n));
  });
  return out;
}

/** The inverse of `optimizerToHost` for the parameters `names`, in the optimizer's order. */
export function optimizerFromHost(host: Record<string, HostTensor>, names: readonly string[]): AdamWState {
  const step = Object.hasOwn(host, 'step') ? host.step.data[0] : undefined;
  if (step === undefined) throw new Error("optimizer state: the step count 'step' is missing");
  const moments = names.map((name) => {
    const m = host[`${name}.m`];
    const v = host[`${name}.v`];
    return m && v ? { m: m.data as Float32Array, v: v.data as Float32Array } : null;
  });
  return { step, moments };
}
