/**
 * @file Finding a Dawn adapter and opening a device on it.
 * `auto` prefers a hardware adapter, then the software ones in the order measured fastest here
 * (GLES on llvmpipe before Vulkan on lavapipe, see docs/runtime.md).
 */
import { create, globals } from 'webgpu';
import type { AdapterDescription } from '../types.ts';

export type GpuBackendName = 'vulkan' | 'opengles';
export type DeviceChoice = 'auto' | 'cpu' | GpuBackendName;
export const DEVICE_CHOICES: readonly DeviceChoice[] = ['auto', 'cpu', 'vulkan', 'opengles'];
export const SETUP_HINT = 'run `bash scripts/setup.sh` (installs Mesa llvmpipe/lavapipe for Dawn)';

export interface GpuContext {
  /** The object returned by `create()`: dawn.node crashes if it is collected while the device lives. */
  readonly gpu: GPU;
  readonly adapter: GPUAdapter;
  readonly device: GPUDevice;
  readonly description: AdapterDescription;
}

// The WebGPU constants (GPUBufferUsage, GPUMapMode…) live on the global object in browsers; Dawn exports them.
if (typeof (globalThis as { GPUBufferUsage?: unknown }).GPUBufferUsage === 'undefined') {
  Object.assign(globalThis, globals);
}

/**
 * Keeps every Dawn instance reachable for the life of the process (docs/runtime.md, "Environment and API
 * pitfalls").
 */
const liveInstances = new Set<GPU>();

const SOFTWARE_ADAPTER = /llvmpipe|lavapipe|swiftshader|softpipe/i;

/** Reads the device choice from the environment (`REPRISE_DEVICE`), validating it. */
export function deviceChoiceFromEnv(fallback: DeviceChoice = 'auto'): DeviceChoice {
  const raw = process.env.REPRISE_DEVICE;
  if (raw === undefined || raw === '') return fallback;
  if (!(DEVICE_CHOICES as readonly string[]).includes(raw)) {
    throw new Error(`REPRISE_DEVICE=${raw} is not a device: expected one of ${DEVICE_CHOICES.join(', ')}`);
  }
  return raw as DeviceChoice;
}

async function findAdapter(backend: GpuBackendName): Promise<{ gpu: GPU; adapter: GPUAdapter } | string> {
  process.env.EGL_PLATFORM ??= 'surfaceless';
  let gpu: GPU;
  try {
    gpu = create([`backend=${backend}`]);
  } catch (e) {
    return `${backend}: Dawn could not start (${(e as Error).message})`;
  }
  const featureLevel = backend === 'opengles' ? 'compatibility' : 'core';
  const adapter = await gpu.requestAdapter({ featureLevel, powerPreference: 'high-performance' } as never);
  if (!adapter) return `${backend}: no adapter`;
  liveInstances.add(gpu);
  return { gpu, adapter };
}

function describe(adapter: GPUAdapter, backend: GpuBackendName): AdapterDescription {
  const info = adapter.info;
  const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`;
  const isFallbackAdapter = Boolean((info as { isFallbackAdapter?: boolean }).isFallbackAdapter);
  return {
    backend,
    vendor: info.vendor,
    architecture: info.architecture,
    description: info.description || info.device,
    featureLevel:
      adapter.features.has('core-features-and-limits') || backend !== 'opengles' ? 'core' : 'compatibility',
    isFallbackAdapter,
    isSoftware: isFallbackAdapter || SOFTWARE_ADAPTER.test(text),
    maxBufferBytes: adapter.limits.maxStorageBufferBindingSize,
  };
}

/** Limits worth raising to the adapter's maximum (compat devices start very low). */
const LIMIT_NAMES = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxStorageBuffersPerShaderStage',
  'maxUniformBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxBindGroups',
  'maxBindingsPerBindGroup',
  'maxStorageTexturesPerShaderStage',
  'maxSampledTexturesPerShaderStage',
  'maxTextureDimension2D',
] as const;

export interface OpenOptions {
  /** Extra limits the caller needs; an adapter that cannot give them is an error naming the limit. */
  requiredLimits?: Partial<Record<(typeof LIMIT_NAMES)[number], number>>;
}

async function openDevice(
  gpu: GPU,
  adapter: GPUAdapter,
  backend: GpuBackendName,
  options: OpenOptions,
): Promise<GpuContext> {
  const requiredLimits: Record<string, number> = {};
  const adapterLimits = adapter.limits as unknown as Record<string, number>;
  for (const name of LIMIT_NAMES) {
    if (typeof adapterLimits[name] === 'number') requiredLimits[name] = adapterLimits[name];
  }
  for (const [name, wanted] of Object.entries(options.requiredLimits ?? {})) {
    const available = adapterLimits[name];
    if (typeof available !== 'number') throw new Error(`limit ${name}: unknown to this adapter`);
    if (wanted !== undefined && wanted > available) {
      throw new Error(
        `limit ${name}: requested ${wanted}, but the ${backend} adapter (${adapter.info.description}) offers at most ${available}`,
      );
    }
  }
  const requiredFeatures: GPUFeatureName[] = [];
  if (adapter.features.has('timestamp-query')) requiredFeatures.push('timestamp-query');
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  return { gpu, adapter, device, description: describe(adapter, backend) };
}

/**
 * Opens a WebGPU device. `auto`: hardware first (any backend), then GLES/llvmpipe, then Vulkan/lavapipe.
 * Throws, listing every attempt, when nothing is found.
 */
export async function openGpu(
  choice: Exclude<DeviceChoice, 'cpu'>,
  options: OpenOptions = {},
): Promise<GpuContext> {
  const order: GpuBackendName[] = choice === 'auto' ? ['vulkan', 'opengles'] : [choice];
  const tried: string[] = [];
  const software: { gpu: GPU; adapter: GPUAdapter; backend: GpuBackendName }[] = [];
  for (const backend of order) {
    const found = await findAdapter(backend);
    if (typeof found === 'string') {
      tried.push(found);
      continue;
    }
    const desc = describe(found.adapter, backend);
    if (choice !== 'auto' || !desc.isSoftware) return openDevice(found.gpu, found.adapter, backend, options);
    tried.push(`${backend}: software adapter ${desc.description}`);
    software.push({ ...found, backend });
  }
  // Software only: GLES/llvmpipe runs our kernels faster than Vulkan/lavapipe (matmul ~3x; docs/runtime.md).
  software.sort((a, b) => (a.backend === 'opengles' ? -1 : 0) - (b.backend === 'opengles' ? -1 : 0));
  const best = software[0];
  if (best) return openDevice(best.gpu, best.adapter, best.backend, options);
  throw new Error(
    `no WebGPU adapter found (device '${choice}'). Tried: ${tried.join('; ')}. To fix: ${SETUP_HINT}, or pass device 'cpu' for the slow reference backend.`,
  );
}
