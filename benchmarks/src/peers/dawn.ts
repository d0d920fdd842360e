/**
 * @file Lends our Dawn instance to the peers (tfjs-webgpu, gpu.js webgpu), which look for `navigator.gpu` the
 * way a browser page would: they then run on the same adapter as our kernels (docs/runtime.md, "Peers").
 */
import type { WebGpuBackend } from '@reprise/kernels';

let lent = false;

/**
 * Sets `globalThis.navigator.gpu` to our Dawn instance. Must run before a peer is imported: tfjs-webgpu
 * registers its backend at import time only when `navigator.gpu` exists. On GLES every adapter request gets
 * `featureLevel: 'compatibility'` (Dawn offers no core adapter there), so peers find the same llvmpipe adapter.
 */
export function lendDawnToPeers(gpu: WebGpuBackend): void {
  if (lent) return;
  lent = true;
  const instance = gpu.context.gpu;
  const featureLevel = gpu.adapter.backend === 'opengles' ? 'compatibility' : 'core';
  const shim = {
    requestAdapter: (options: GPURequestAdapterOptions = {}) =>
      instance.requestAdapter({ ...options, featureLevel } as GPURequestAdapterOptions),
    getPreferredCanvasFormat: () => 'rgba8unorm' as GPUTextureFormat,
    wgslLanguageFeatures: instance.wgslLanguageFeatures,
  };
  Object.defineProperty(globalThis, 'navigator', {
    value: { ...(globalThis as { navigator?: object }).navigator, gpu: shim },
    configurable: true,
    writable: true,
  });
}
