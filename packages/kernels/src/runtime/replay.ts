/**
 * @file Replays recorded dispatches (trace.ts) on their own: one dispatch per submit, optionally into other
 * buffers of the same sizes, and times them (submit to `onSubmittedWorkDone`), for the per-kernel profile.
 */
import { UNIFORM_SLOT_BYTES } from './batcher.ts';
import { TextureCache } from './texture-cache.ts';
import type { TraceEvent, TracedDispatch } from './trace.ts';

const EMPTY_WGSL = '@compute @workgroup_size(1) fn main() {}';

export interface ReplayTiming {
  dispatch: TracedDispatch;
  /**
   * Time per dispatch in ms: for a kernel with an output, the median of 3 submits of `reps` copies in one pass,
   * divided by `reps` (as in a step, many dispatches share a pass and a submit); for an in-place kernel, the
   * median of `reps` single submits (its inputs are restored between them), which include one round trip.
   */
  medianMs: number;
  /** Whether `medianMs` holds a whole submit round trip (in-place kernels). */
  single: boolean;
}

export class DispatchReplayer {
  readonly #device: GPUDevice;
  readonly #uniforms: GPUBuffer;
  readonly #textures: TextureCache;
  #empty: GPUComputePipeline | null = null;

  constructor(device: GPUDevice) {
    this.#device = device;
    this.#textures = new TextureCache(device);
    this.#uniforms = device.createBuffer({
      size: UNIFORM_SLOT_BYTES,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      label: 'replay-uniforms',
    });
  }

  /**
   * Submits one recorded dispatch (`copies` times in one pass), bound to `buffers` (default: the recorded
   * ones); does not wait.
   */
  run(d: TracedDispatch, buffers: readonly GPUBuffer[] = d.buffers, copies = 1): void {
    if (buffers.length !== d.buffers.length)
      throw new Error(
        `replay of ${d.describe}: ${buffers.length} buffers given, ${d.buffers.length} recorded`,
      );
    this.#device.queue.writeBuffer(this.#uniforms, 0, d.uniforms);
    const encoder = this.#device.createCommandEncoder();
    // Texture operands are copied from their buffers first, as in a step (once per submit of `copies`).
    const entries: GPUBindGroupEntry[] = buffers.map((buffer, binding) => {
      const operand = d.textures[binding];
      if (!operand) return { binding, resource: { buffer } };
      const { texture, view } = this.#textures.get(binding, operand);
      const { width, height } = operand;
      encoder.copyBufferToTexture({ buffer, bytesPerRow: width * 16 }, { texture }, [width, height]);
      return { binding, resource: view };
    });
    entries.push({ binding: buffers.length, resource: { buffer: this.#uniforms, size: UNIFORM_SLOT_BYTES } });
    const bindGroup = this.#device.createBindGroup({ layout: d.pipeline.getBindGroupLayout(0), entries });
    const pass = encoder.beginComputePass();
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, bindGroup);
    for (let i = 0; i < copies; i++) pass.dispatchWorkgroups(...d.workgroups);
    pass.end();
    this.#device.queue.submit([encoder.finish()]);
  }

  /** Fresh buffers of the recorded sizes holding copies of the recorded inputs' current contents. */
  cloneBuffers(d: TracedDispatch): GPUBuffer[] {
    const encoder = this.#device.createCommandEncoder();
    const clones = d.buffers.map((b) => {
      const c = this.#device.createBuffer({ size: b.size, usage: b.usage });
      encoder.copyBufferToBuffer(b, 0, c, 0, b.size);
      return c;
    });
    this.#device.queue.submit([encoder.finish()]);
    return clones;
  }

  /** Median submit-to-done time of an empty dispatch: the fixed cost inside every replay timing. */
  async roundTripMs(reps: number): Promise<number> {
    this.#empty ??= this.#device.createComputePipeline({
      layout: 'auto',
      compute: { module: this.#device.createShaderModule({ code: EMPTY_WGSL }), entryPoint: 'main' },
    });
    const empty = this.#empty;
    return this.#median(reps, () => {
      const encoder = this.#device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      pass.setPipeline(empty);
      pass.dispatchWorkgroups(1);
      pass.end();
      this.#device.queue.submit([encoder.finish()]);
    });
  }

  /**
   * Replays a whole trace in order (uploads included, so data-dependent kernels see the data they saw), timing
   * each dispatch after one untimed run (see `ReplayTiming`). An in-place kernel's written buffers are restored
   * before each repetition (untimed), so every later dispatch reads what it read in the recorded step.
   */
  async timeTrace(events: readonly TraceEvent[], reps: number): Promise<ReplayTiming[]> {
    const out: ReplayTiming[] = [];
    for (const e of events) {
      if (e.kind === 'upload') {
        this.#device.queue.writeBuffer(e.buffer, 0, e.data);
        continue;
      }
      const inPlace = e.inPlace ? e.written : [];
      const saved = inPlace.map((i) => this.cloneBuffers({ ...e, buffers: [e.buffers[i]!] })[0]!);
      const restore = async () => {
        if (saved.length === 0) return;
        const encoder = this.#device.createCommandEncoder();
        inPlace.forEach((i, k) => encoder.copyBufferToBuffer(saved[k]!, 0, e.buffers[i]!, 0, saved[k]!.size));
        this.#device.queue.submit([encoder.finish()]);
        await this.#device.queue.onSubmittedWorkDone();
      };
      await restore();
      this.run(e);
      await this.#device.queue.onSubmittedWorkDone();
      const times: number[] = [];
      if (e.inPlace) {
        for (let r = 0; r < reps; r++) {
          await restore();
          times.push(await this.#median(1, () => this.run(e)));
        }
      } else {
        const batch = await this.#median(3, () => this.run(e, e.buffers, reps));
        times.push(batch / reps);
      }
      for (const b of saved) b.destroy();
      out.push({ dispatch: e, medianMs: median(times), single: e.inPlace });
    }
    return out;
  }

  async #median(reps: number, submit: () => void): Promise<number> {
    const times: number[] = [];
    for (let r = 0; r < reps; r++) {
      const t0 = performance.now();
      submit();
      await this.#device.queue.onSubmittedWorkDone();
      times.push(performance.now() - t0);
    }
    return median(times);
  }

  destroy(): void {
    this.#uniforms.destroy();
    this.#textures.clear();
  }
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
