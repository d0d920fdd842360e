/**
 * @file @reprise/model: the transformer backbone (decoder or encoder), mask policies, sequence repetition and
 * the sequence-labeling head with early exit.
 */
export {
  type TransformerConfig,
  DEFAULT_CONFIG,
  makeConfig,
  validateConfig,
} from './config.ts';
export { CONFIG_FIELD_LIMITS, MODEL_BYTES_LIMIT, configBytes, configSizeProblem } from './config-limits.ts';
export { type MaskPolicy, causalLayers, middleBand, parseMaskPolicy } from './masks.ts';
export {
  type ParamInit,
  type ParamMap,
  type ParamSpec,
  initParams,
  noDecayNames,
  paramShapes,
  paramSpecs,
  parameterCount,
} from './params.ts';
export {
  type RepeatedBatch,
  type RepetitionOptions,
  longestRepeatable,
  repeatBatch,
  repeatedPositions,
  lastCopyBias,
  lastCopyStart,
} from './repetition.ts';
export { type HiddenOptions, Transformer } from './transformer.ts';
export type { AttentionTap } from './block.ts';
export { type LabelerOptions, IGNORE_LABEL, SequenceLabeler } from './labeler.ts';
export { type RotaryTables, rotaryTables, rotaryAt, applyRotary } from './rotary.ts';
