/**
 * @file @reprise/core: tensors, ops with broadcasting, reverse-mode autograd, memory scopes, optimizers.
 */
export { Device, type RandomOptions } from './device.ts';
export { Tensor, type NestedArray } from './tensor.ts';
export { Rng } from './random.ts';
export { tidy, keep, dispose } from './scope.ts';
export { noGrad, isGradEnabled, backward } from './autograd/graph.ts';
export { GRAD_RULES, type OpName, type PrimitiveAttrs, sumToShape } from './autograd/rules.ts';
export { defineFusedOp, type FusedContext, type FusedOp, type InputGrads } from './autograd/fused.ts';
export {
  add,
  sub,
  mul,
  div,
  pow,
  maximum,
  minimum,
  compare,
  neg,
  exp,
  log,
  sqrt,
  tanh,
  relu,
  gelu,
  silu,
  abs,
  where,
  maskedFill,
  cast,
} from './ops/elementwise.ts';
export { sum, mean, max } from './ops/reduce.ts';
export { reshape, permute, transpose, slice, pad, expand, concat, tile, repeat } from './ops/layout.ts';
export { matmul, type MatmulOptions } from './ops/matmul.ts';
export { attention, type AttentionOptions, chooseAttentionImpl, maskedSoftmax } from './ops/attention.ts';
export {
  type RotaryOptions,
  gather,
  scatterAdd,
  softmax,
  logSoftmax,
  dropout,
  rotary,
} from './ops/nn.ts';
export { crossEntropy, type CrossEntropyOptions } from './ops/fused/cross-entropy.ts';
export { layerNorm } from './ops/fused/layer-norm.ts';
export { rmsNorm } from './ops/fused/rms-norm.ts';
export { SGD } from './optim/sgd.ts';
export { AdamW, type AdamWOptions, type AdamWState, globalGradNorm } from './optim/adamw.ts';
export { type Schedule, constantSchedule, warmupCosine, warmupLinear } from './optim/schedule.ts';
export { broadcastShapes, sizeOf, stridesOf, type Shape } from './shape.ts';
