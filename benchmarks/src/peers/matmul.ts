/**
 * @file Matmul C = A·B (row-major, A [M, K], B [K, N]) as a user of each peer would write it: tfjs `matMul`,
 * a gpu.js kernel (one output per thread, the library's own matmul example), and a plain i-k-j loop.
 */
import type { WebGpuBackend } from '@reprise/kernels';
import { GPU } from 'gpu.js';
import type { Job } from '../job.ts';
import { lendDawnToPeers } from './dawn.ts';
import type { Tf } from './tfjs.ts';

export interface MatmulInputs {
  a: Float32Array;
  b: Float32Array;
  M: number;
  N: number;
  K: number;
}

export function tfjsMatmul(tf: Tf, { a, b, M, N, K }: MatmulInputs): Job {
  const ta = tf.tensor2d(a, [M, K]);
  const tb = tf.tensor2d(b, [K, N]);
  const once = async () => {
    const c = tf.matMul(ta, tb);
    try {
      return await c.data();
    } finally {
      c.dispose();
    }
  };
  return {
    run: async () => void (await once()),
    outputs: async () => [(await once()) as Float32Array],
    dispose: () => tf.dispose([ta, tb]),
  };
}

/**
 * gpu.js in its default Node mode (WebAssembly: no GL here), or in `webgpu` mode on our Dawn adapter when
 * `dawn` is given.
 */
export function gpujsMatmul({ a, b, M, N, K }: MatmulInputs, dawn?: WebGpuBackend): Job & { mode: string } {
  if (dawn) lendDawnToPeers(dawn);
  const gpu = dawn ? new GPU({ mode: 'webgpu' }) : new GPU();
  const kernel = gpu.createKernel(
    function (
      this: { thread: { x: number; y: number }; constants: { K: number; N: number } },
      x: number[],
      y: number[],
    ) {
      let sum = 0;
      for (let k = 0; k < this.constants.K; k++) {
        sum += x[this.thread.y * this.constants.K + k]! * y[k * this.constants.N + this.thread.x]!;
      }
      return sum;
    },
    { output: [N, M], constants: { K, N } },
  );
  const once = async () => {
    const rows = (await kernel(
      a as unknown as number[],
      b as unknown as number[],
    )) as unknown as Float32Array[];
    const flat = new Float32Array(M * N);
    rows.forEach((row, m) => flat.set(row, m * N));
    return flat;
  };
  return {
    mode: gpu.mode,
    run: async () => void (await once()),
    outputs: async () => [await once()],
    dispose: () => void gpu.destroy(),
  };
}

/** The loop a JavaScript programmer writes: i-k-j order over Float32Arrays (streams B's rows). */
export function plainJsMatmul({ a, b, M, N, K }: MatmulInputs): Job {
  const once = () => {
    const c = new Float32Array(M * N);
    for (let i = 0; i < M; i++) {
      const row = i * N;
      for (let k = 0; k < K; k++) {
        const aik = a[i * K + k]!;
        const bRow = k * N;
        for (let j = 0; j < N; j++) c[row + j]! += aik * b[bRow + j]!;
      }
    }
    return c;
  };
  return { run: async () => void once(), outputs: async () => [once()], dispose: () => {} };
}
