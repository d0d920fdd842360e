/**
 * @file @reprise/kernels: the WebGPU runtime and every kernel with its CPU twin. Knows nothing of tensors.
 */
export type { AdapterDescription, DType, HostArray, KernelBackend, MemoryStats, Storage } from './types.ts';
export { CpuBackend, POISON_I32 } from './backends/cpu.ts';
export { WebGpuBackend, type WebGpuOptions } from './backends/webgpu.ts';
export { DebugBackend, compareToTwin } from './backends/debug.ts';
export { createBackend, type BackendOptions } from './backends/create.ts';
export { DEVICE_CHOICES, type DeviceChoice, SETUP_HINT, deviceChoiceFromEnv } from './runtime/adapter.ts';
export type { KernelTiming } from './runtime/profiler.ts';
export { DispatchTrace, type TraceEvent, type TracedDispatch } from './runtime/trace.ts';
export { DispatchReplayer, type ReplayTiming } from './runtime/replay.ts';
export {
  KERNELS,
  type InPlaceKernelName,
  type KernelInputs,
  type KernelName,
  type KernelParams,
  type OutputKernelName,
  kernel,
  runByName,
  runInPlaceByName,
} from './kernels/registry.ts';
export { type SortedIndices, sortIndices } from './kernels/gather.ts';
export type { KernelDef, Tolerance } from './kernels/kernel.ts';
export type { UnaryOpName, BinaryOpName } from './kernels/elementwise-ops.ts';
export { BINARY_OPS, UNARY_OPS } from './kernels/elementwise-ops.ts';
export type { MatmulParams } from './kernels/matmul.ts';
export type { ReduceParams } from './kernels/reduce.ts';
export type { StridedParams, ConcatParams } from './kernels/layout.ts';
export { contiguousStrides, product } from './kernels/wgsl.ts';
