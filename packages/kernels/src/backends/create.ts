/**
 * @file Choosing a backend: `cpu`, or a WebGPU device (`auto`, `vulkan`, `opengles`), optionally wrapped in
 * debug mode. Environment: REPRISE_DEVICE, REPRISE_DEBUG=1, REPRISE_PROFILE=1.
 */
import { type DeviceChoice, deviceChoiceFromEnv } from '../runtime/adapter.ts';
import type { KernelBackend } from '../types.ts';
import { CpuBackend } from './cpu.ts';
import { DebugBackend } from './debug.ts';
import { WebGpuBackend, type WebGpuOptions } from './webgpu.ts';

export interface BackendOptions extends WebGpuOptions {
  /** Defaults to REPRISE_DEVICE, else 'auto'. 'auto' never falls back to the CPU silently. */
  device?: DeviceChoice;
  /** Check every WebGPU kernel against its CPU twin (slow). Defaults to REPRISE_DEBUG=1. */
  debug?: boolean;
  /** The CPU backend only: the bindable-buffer limit it reports (tests of row blocks; default none). */
  cpuMaxBufferBytes?: number;
}

const envFlag = (name: string) => ['1', 'true', 'yes'].includes((process.env[name] ?? '').toLowerCase());

export async function createBackend(options: BackendOptions = {}): Promise<KernelBackend> {
  const device = options.device ?? deviceChoiceFromEnv();
  if (device === 'cpu')
    return new CpuBackend({ poison: options.poison, maxBufferBytes: options.cpuMaxBufferBytes });
  const gpu = await WebGpuBackend.create(device, {
    ...options,
    profile: options.profile ?? envFlag('REPRISE_PROFILE'),
  });
  return (options.debug ?? envFlag('REPRISE_DEBUG')) ? new DebugBackend(gpu) : gpu;
}
