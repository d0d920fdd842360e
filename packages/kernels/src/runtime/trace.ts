/**
 * @file A dispatch recorder for profiling: while a trace is on, the backend appends every dispatch (kernel,
 * pipeline, bound buffers, params uniform, workgroups) and every upload, in queue order, so that the work of
 * a step can be replayed dispatch by dispatch (see replay.ts). Off by default; off costs one null check per
 * dispatch and per upload.
 */

import type { TextureOperand } from '../kernels/kernel.ts';

export interface TracedDispatch {
  kind: 'dispatch';
  kernel: string;
  /** The kernel's one-line description (op and shapes). */
  describe: string;
  params: object;
  pipeline: GPUComputePipeline;
  /** Inputs, then the output for a kernel that has one (the bind order). */
  buffers: GPUBuffer[];
  /** Indices into `buffers` that the dispatch writes: the output, or an in-place kernel's overwritten inputs. */
  written: number[];
  /** The kernel overwrites some of its inputs (no separate output). */
  inPlace: boolean;
  /** Bytes of the bound tensors (inputs + output): a rough estimate of the minimal memory traffic. */
  bytes: number;
  uniforms: Uint32Array;
  workgroups: [number, number, number];
  /** Per input, the texture it was read through (copied from its buffer first), or null. */
  textures: (TextureOperand | null)[];
  /** The phase the caller was in (`DispatchTrace.phase`) when the dispatch was recorded. */
  phase: string;
}

export interface TracedUpload {
  kind: 'upload';
  buffer: GPUBuffer;
  data: Float32Array | Int32Array;
}

export type TraceEvent = TracedDispatch | TracedUpload;

export class DispatchTrace {
  readonly events: TraceEvent[] = [];
  /** Set by the caller between phases; each dispatch is tagged with it. */
  phase = '';

  dispatch(d: Omit<TracedDispatch, 'kind' | 'phase' | 'uniforms'> & { uniforms: ArrayLike<number> }): void {
    this.events.push({ ...d, kind: 'dispatch', phase: this.phase, uniforms: Uint32Array.from(d.uniforms) });
  }

  upload(buffer: GPUBuffer, data: Float32Array | Int32Array): void {
    this.events.push({ kind: 'upload', buffer, data });
  }

  get dispatches(): TracedDispatch[] {
    return this.events.filter((e): e is TracedDispatch => e.kind === 'dispatch');
  }
}
