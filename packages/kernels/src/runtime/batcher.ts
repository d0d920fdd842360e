/**
 * @file Command batching: many dispatches per compute pass and per submit, flushed on readback, on upload
 * into a buffer still used by queued work, when the batch is full, or explicitly.
 *
 * Each dispatch's params live in one 256-byte slot of a shared uniform arena that is written with a single
 * `writeBuffer` just before the batch is submitted. Queue order (write, submit, write, submit) makes reusing
 * the arena across batches safe.
 */
import type { TimestampProfiler } from './profiler.ts';

export const UNIFORM_SLOT_BYTES = 256;
export const UNIFORM_WORDS = UNIFORM_SLOT_BYTES / 4;

export class CommandBatcher {
  readonly #device: GPUDevice;
  readonly #maxDispatches: number;
  readonly #arena: GPUBuffer;
  readonly #staging: Uint32Array;
  readonly #profiler: TimestampProfiler | null;
  #encoder: GPUCommandEncoder | null = null;
  #pass: GPUComputePassEncoder | null = null;
  #count = 0;
  /** Buffers released while queued work may still read them: an upload into one must flush first. */
  readonly #releasedSinceSubmit = new Set<GPUBuffer>();
  submits = 0;
  dispatches = 0;
  /** Time inside `queue.submit` (two clock reads per submit, a few per step). */
  submitMs = 0;

  constructor(device: GPUDevice, maxDispatches: number, profiler: TimestampProfiler | null) {
    this.#device = device;
    this.#maxDispatches = maxDispatches;
    this.#profiler = profiler;
    this.#arena = device.createBuffer({
      size: maxDispatches * UNIFORM_SLOT_BYTES,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      label: 'uniform-arena',
    });
    this.#staging = new Uint32Array(maxDispatches * UNIFORM_WORDS);
  }

  get pending(): number {
    return this.#count;
  }

  /**
   * Queues a dispatch with these bindings (buffers, or texture views for texture operands, in binding order; the
   * params slot follows them).
   */
  dispatch(
    pipeline: GPUComputePipeline,
    bindings: readonly (GPUBuffer | GPUTextureView)[],
    uniforms: ArrayLike<number>,
    workgroups: readonly [number, number, number],
    label: string,
  ): void {
    if (uniforms.length > UNIFORM_WORDS) {
      throw new Error(
        `kernel ${label}: ${uniforms.length} param words exceed the ${UNIFORM_WORDS}-word slot`,
      );
    }
    if (this.#count === this.#maxDispatches) this.flush();
    const slot = this.#count++;
    this.#staging.set(uniforms, slot * UNIFORM_WORDS);
    const entries: GPUBindGroupEntry[] = bindings.map((b, binding) => ({
      binding,
      resource: b instanceof GPUBuffer ? { buffer: b } : b,
    }));
    entries.push({
      binding: bindings.length,
      resource: { buffer: this.#arena, offset: slot * UNIFORM_SLOT_BYTES, size: UNIFORM_SLOT_BYTES },
    });
    const bindGroup = this.#device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    this.#encoder ??= this.#device.createCommandEncoder();
    let pass = this.#pass;
    if (this.#profiler) {
      pass = this.#encoder.beginComputePass({ timestampWrites: this.#profiler.nextWrites(label) });
    } else {
      pass ??= this.#pass = this.#encoder.beginComputePass();
    }
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(workgroups[0], workgroups[1], workgroups[2]);
    if (this.#profiler) pass.end();
    this.dispatches++;
  }

  /** Notes that a buffer went back to the pool; see `needsFlushBeforeWrite`. */
  noteReleased(buffer: GPUBuffer): void {
    if (this.#count > 0) this.#releasedSinceSubmit.add(buffer);
  }

  /** `queue.writeBuffer` runs before unsubmitted commands: writing a buffer they read needs a flush first. */
  needsFlushBeforeWrite(buffer: GPUBuffer): boolean {
    return this.#releasedSinceSubmit.has(buffer);
  }

  /** Encodes a buffer-to-buffer copy after the queued dispatches (ends the current pass). */
  copy(src: GPUBuffer, dst: GPUBuffer, bytes: number): void {
    this.#endPass().copyBufferToBuffer(src, 0, dst, 0, bytes);
  }

  /**
   * Encodes a copy of a buffer's first width × height rgba32f texels (row-major) into a texture, after the queued
   * dispatches (ends the current pass); a later dispatch reads it. Reusing a texture in the same batch is safe:
   * commands run in encoding order.
   */
  copyToTexture(src: GPUBuffer, texture: GPUTexture, width: number, height: number): void {
    this.#endPass().copyBufferToTexture(
      { buffer: src, bytesPerRow: width * 16, rowsPerImage: height },
      { texture },
      [width, height],
    );
  }

  #endPass(): GPUCommandEncoder {
    this.#encoder ??= this.#device.createCommandEncoder();
    this.#pass?.end();
    this.#pass = null;
    return this.#encoder;
  }

  flush(): void {
    if (!this.#encoder) return;
    this.#pass?.end();
    this.#pass = null;
    this.#profiler?.resolve(this.#encoder);
    if (this.#count > 0) {
      this.#device.queue.writeBuffer(this.#arena, 0, this.#staging, 0, this.#count * UNIFORM_WORDS);
    }
    const commands = this.#encoder.finish();
    const t0 = performance.now();
    this.#device.queue.submit([commands]);
    this.submitMs += performance.now() - t0;
    this.#profiler?.afterSubmit();
    this.#encoder = null;
    this.#count = 0;
    this.#releasedSinceSubmit.clear();
    this.submits++;
  }

  destroy(): void {
    this.#arena.destroy();
  }
}
