/**
 * @file Parameters ↔ host tensors (what checkpoints hold), and in-memory snapshots for keeping the best epoch.
 */
import type { AdamWState, Device, Tensor } from '@reprise/core';
import {
  ROW_BLOCKED_PARAMETERS,
  groupRowBlocks,
  joinedShape,
  parseRowBlock,
  rowBlockName,
  rowBlockStarts,
} from '@reprise/model';
import { type HostTensor, hostTensor } from '../io/index.ts';

/**
 * Host copies of `params` under their checkpoint names: a table held in row blocks (model/src/row-blocks.ts) is
 * joined, so that what is saved does not depend on the adapter it was trained on.
 */
export async function toHost(params: Record<string, Tensor>): Promise<Record<string, HostTensor>> {
  const out: Record<string, HostTensor> = {};
  for (const [name, blocks] of groupRowBlocks(params)) {
    const parts = await Promise.all(blocks.map((b) => b.tensor.hostData()));
    const { dtype } = blocks[0]!.tensor;
    const data = dtype === 'i32' ? new Int32Array(sumLengths(parts)) : new Float32Array(sumLengths(parts));
    let at = 0;
    for (const part of parts) {
      data.set(part, at);
      at += part.length;
    }
    const whole = blocks.length === 1 && blocks[0]!.name === name;
    out[name] = hostTensor(whole ? [...blocks[0]!.tensor.shape] : joinedShape(blocks), data);
  }
  return out;
}

const sumLengths = (parts: readonly ArrayLike<number>[]) => parts.reduce((n, p) => n + p.length, 0);

/** Rows [start, start + rows) of a host tensor. */
function hostRows(h: HostTensor, start: number, rows: number): HostTensor {
  const row = h.shape.slice(1).reduce((a, b) => a * b, 1);
  return hostTensor([rows, ...h.shape.slice(1)], h.data.slice(start * row, (start + rows) * row));
}

/**
 * Trainable tensors from host tensors; a token table or LM head above the device's largest bindable buffer is
 * made as row blocks (model/src/row-blocks.ts), which the model reads as the whole table.
 */
export function fromHost(device: Device, host: Record<string, HostTensor>): Record<string, Tensor> {
  const limit = device.backend.adapter.maxBufferBytes;
  const upload = (h: HostTensor) => device.tensor(h.data, h.shape).setRequiresGrad();
  return Object.fromEntries(
    Object.entries(host).flatMap(([name, h]) => {
      // Only the tables may be split; anything else too large is left for the upload to refuse.
      if (!ROW_BLOCKED_PARAMETERS.has(name)) return [[name, upload(h)]];
      const starts = rowBlockStarts(name, h.shape, limit);
      if (starts.length === 1) return [[name, upload(h)]];
      const rows = h.shape[0]!;
      return starts.map((start, b) => [
        rowBlockName(name, start),
        upload(hostRows(h, start, (starts[b + 1] ?? rows) - start)),
      ]);
    }),
  );
}

/**
 * Overwrites `params` in place (keeping tensor identity, so optimizers stay attached) from host tensors; a row
 * block takes its rows of the saved whole table.
 */
export function assignFromHost(params: Record<string, Tensor>, host: Record<string, HostTensor>): void {
  for (const [name, t] of Object.entries(params)) {
    const block = parseRowBlock(name);
    const h = host[block?.name ?? name];
    if (!h) throw new Error(`weights: '${block?.name ?? name}' is missing from the saved weights`);
    const rows = block ? hostRows(h, block.start, t.shape[0]!) : h;
    t.assign(t.device.tensor(rows.data, rows.shape));
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
