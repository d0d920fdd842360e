/**
 * @file TensorFlow.js 4.22 with its webgpu (on our Dawn adapter), wasm (XNNPACK, SIMD) and cpu backends, loaded
 * once per process; suites switch backends with `useTfjs`.
 */
import type { WebGpuBackend } from '@reprise/kernels';
import type { ImplCase, Job } from '../job.ts';
import { lendDawnToPeers } from './dawn.ts';

export type Tf = typeof import('@tensorflow/tfjs');
export const TFJS_BACKENDS = ['webgpu', 'wasm', 'cpu'] as const;
export type TfjsBackend = (typeof TFJS_BACKENDS)[number];

let loaded: Promise<Tf> | null = null;

async function load(gpu: WebGpuBackend): Promise<Tf> {
  lendDawnToPeers(gpu);
  const tf = await import('@tensorflow/tfjs');
  await import('@tensorflow/tfjs-backend-webgpu');
  await import('@tensorflow/tfjs-backend-wasm');
  // Production mode, as a user timing tfjs would run it: no debug checks, no "install tfjs-node" banner.
  tf.enableProdMode();
  return tf;
}

/** tfjs with `backend` active. */
export async function useTfjs(gpu: WebGpuBackend, backend: TfjsBackend): Promise<Tf> {
  loaded ??= load(gpu);
  const tf = await loaded;
  if (!(await tf.setBackend(backend))) throw new Error(`tfjs backend ${backend} failed to start`);
  await tf.ready();
  return tf;
}

export const tfjsImpl = (backend: TfjsBackend) => `tfjs-${backend}`;

/** The tfjs implementations of one computation, one per backend that `include` keeps. */
export function tfjsCases(
  gpu: WebGpuBackend,
  make: (tf: Tf) => Job,
  include: (backend: TfjsBackend) => boolean = () => true,
): ImplCase[] {
  return TFJS_BACKENDS.filter(include).map((backend) => ({
    impl: tfjsImpl(backend),
    adapter: backend === 'webgpu' ? gpu.adapter.description : 'cpu',
    build: async () => make(await useTfjs(gpu, backend)),
  }));
}
