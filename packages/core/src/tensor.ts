/**
 * @file Tensor: a shape, a dtype, a device and a (shared, reference-counted) storage, plus autograd state.
 * Tensors are always contiguous and row-major; reshape shares storage, every other op makes a new one.
 * Op methods forward to the functions in ./ops, which hold the logic.
 */
import type { DType, HostArray, Storage } from '@reprise/kernels';
import type { GraphNode } from './autograd/graph.ts';
import { backward, dropNode } from './autograd/graph.ts';
import type { Device } from './device.ts';
import * as el from './ops/elementwise.ts';
import * as lay from './ops/layout.ts';
import { type MatmulOptions, matmul } from './ops/matmul.ts';
import * as nn from './ops/nn.ts';
import * as red from './ops/reduce.ts';
import { track } from './scope.ts';
import { type Shape, fmt, sizeOf } from './shape.ts';

/** A storage shared by a tensor and its reshapes; released when the last one is disposed. */
export interface StorageRef {
  storage: Storage;
  refs: number;
  /** A host copy of i32 data uploaded from the host (token ids): lets scatter-add sort its indices there. */
  hostIndices?: Int32Array;
}

export type NestedArray = number | NestedArray[];
type Operand = Tensor | number;

let nextId = 1;

export class Tensor {
  readonly id = nextId++;
  readonly shape: Shape;
  readonly dtype: DType;
  readonly device: Device;
  #ref: StorageRef | null;
  /** Leaf tensors with requiresGrad get `.grad` from `backward()`; ops on them are recorded. */
  requiresGrad = false;
  grad: Tensor | null = null;
  /** The op that produced this tensor, while its graph is alive. */
  node: GraphNode | null = null;
  /** Kept alive only because a live graph needs it; disposed when no graph node refers to it any more. */
  graphOwned = false;
  /** Number of live graph nodes that have this tensor as an input. */
  graphRefs = 0;

  /** Use the Device's creation methods; this wraps an existing storage. */
  constructor(device: Device, storage: Storage | StorageRef, shape: Shape) {
    const ref = 'refs' in storage ? storage : { storage, refs: 0 };
    if (ref.storage.size !== sizeOf(shape)) {
      throw new Error(
        `tensor: shape ${fmt(shape)} needs ${sizeOf(shape)} elements, storage has ${ref.storage.size}`,
      );
    }
    ref.refs++;
    this.#ref = ref;
    this.shape = Object.freeze([...shape]);
    this.dtype = ref.storage.dtype;
    this.device = device;
    track(this);
  }

  get size(): number {
    return sizeOf(this.shape);
  }
  get rank(): number {
    return this.shape.length;
  }
  get isDisposed(): boolean {
    return this.#ref === null;
  }

  toString(): string {
    return `Tensor#${this.id}(${fmt(this.shape)}, ${this.dtype}, ${this.device.name})`;
  }

  /** The backing storage; throws a clear error once the tensor is disposed. */
  get storage(): Storage {
    if (!this.#ref) {
      throw new Error(
        `${this} was disposed and cannot be used (it was released by dispose(), by the end of a tidy() scope, or by backward() releasing its graph)`,
      );
    }
    return this.#ref.storage;
  }

  /** A new tensor of another shape over the same storage. */
  withShape(shape: Shape): Tensor {
    this.storage; // throws if disposed
    return new Tensor(this.device, this.#ref!, shape);
  }

  /** Releases the storage (once every reshape sharing it is disposed too). Disposing twice is harmless. */
  dispose(): void {
    const ref = this.#ref;
    if (!ref) return;
    this.#ref = null;
    if (--ref.refs === 0) this.device.backend.release(ref.storage);
    dropNode(this);
  }

  /** Replaces this tensor's contents with `value`'s (which is consumed), keeping identity (optimizers). */
  assign(value: Tensor): this {
    if (value.dtype !== this.dtype || value.shape.join() !== this.shape.join()) {
      throw new Error(`assign: ${this} cannot take ${value}: shapes or dtypes differ`);
    }
    value.storage;
    const ref = value.#ref!;
    value.#ref = null;
    dropNode(value);
    this.dispose();
    this.#ref = ref;
    return this;
  }

  /** The host copy of an i32 tensor made from host data (shared by its reshapes), else null. */
  get hostIndices(): Int32Array | null {
    return this.#ref?.hostIndices ?? null;
  }

  // --- reading ------------------------------------------------------------------------------------

  /** The values, Float32Array for f32 and Int32Array for i32. */
  async data(): Promise<Float32Array | Int32Array> {
    const raw = await this.hostData();
    return raw instanceof Float64Array ? Float32Array.from(raw) : raw;
  }

  /** The values in the backend's own precision (float64 on the CPU reference backend). */
  hostData(): Promise<HostArray> {
    return this.device.backend.read(this.storage);
  }

  async toArray(): Promise<NestedArray> {
    const flat = Array.from(await this.hostData());
    const build = (dim: number, offset: number): NestedArray => {
      if (dim === this.rank) return flat[offset]!;
      const stride = sizeOf(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim]! }, (_, i) => build(dim + 1, offset + i * stride));
    };
    return build(0, 0);
  }

  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item: ${this} has ${this.size} elements, expected 1`);
    return (await this.hostData())[0]!;
  }

  // --- autograd -----------------------------------------------------------------------------------

  setRequiresGrad(on = true): this {
    if (on && this.dtype !== 'f32')
      throw new Error(`requiresGrad: ${this} is ${this.dtype}; only f32 tensors have gradients`);
    this.requiresGrad = on;
    return this;
  }

  /** Same storage, no graph: gradients stop here. */
  detach(): Tensor {
    return this.withShape(this.shape);
  }

  backward(grad?: Tensor): void {
    backward(this, grad);
  }

  zeroGrad(): void {
    this.grad?.dispose();
    this.grad = null;
  }

  // --- ops (see ./ops for each one's rules) -------------------------------------------------------

  add(b: Operand) {
    return el.add(this, b);
  }
  sub(b: Operand) {
    return el.sub(this, b);
  }
  mul(b: Operand) {
    return el.mul(this, b);
  }
  div(b: Operand) {
    return el.div(this, b);
  }
  pow(b: Operand) {
    return el.pow(this, b);
  }
  maximum(b: Operand) {
    return el.maximum(this, b);
  }
  minimum(b: Operand) {
    return el.minimum(this, b);
  }
  eq(b: Operand) {
    return el.compare('eq', this, b);
  }
  ne(b: Operand) {
    return el.compare('ne', this, b);
  }
  lt(b: Operand) {
    return el.compare('lt', this, b);
  }
  le(b: Operand) {
    return el.compare('le', this, b);
  }
  gt(b: Operand) {
    return el.compare('gt', this, b);
  }
  ge(b: Operand) {
    return el.compare('ge', this, b);
  }
  neg() {
    return el.neg(this);
  }
  exp() {
    return el.exp(this);
  }
  log() {
    return el.log(this);
  }
  sqrt() {
    return el.sqrt(this);
  }
  tanh() {
    return el.tanh(this);
  }
  relu() {
    return el.relu(this);
  }
  gelu() {
    return el.gelu(this);
  }
  silu() {
    return el.silu(this);
  }
  abs() {
    return el.abs(this);
  }
  cast(dtype: DType) {
    return el.cast(this, dtype);
  }
  maskedFill(mask: Tensor, value: number) {
    return el.maskedFill(this, mask, value);
  }
  sum(axes?: number | number[], keepdims = false) {
    return red.sum(this, axes, keepdims);
  }
  mean(axes?: number | number[], keepdims = false) {
    return red.mean(this, axes, keepdims);
  }
  max(axes?: number | number[], keepdims = false) {
    return red.max(this, axes, keepdims);
  }
  reshape(shape: Shape) {
    return lay.reshape(this, shape);
  }
  permute(perm: readonly number[]) {
    return lay.permute(this, perm);
  }
  transpose(axisA = -2, axisB = -1) {
    return lay.transpose(this, axisA, axisB);
  }
  slice(starts: readonly number[], ends: readonly number[]) {
    return lay.slice(this, starts, ends);
  }
  expand(shape: Shape) {
    return lay.expand(this, shape);
  }
  tile(axis: number, reps: number) {
    return lay.tile(this, axis, reps);
  }
  repeat(axis: number, reps: number) {
    return lay.repeat(this, axis, reps);
  }
  matmul(b: Tensor, options?: MatmulOptions) {
    return matmul(this, b, options);
  }
  softmax(axis = -1) {
    return nn.softmax(this, axis);
  }
  logSoftmax(axis = -1) {
    return nn.logSoftmax(this, axis);
  }
}
