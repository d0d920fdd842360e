/**
 * @file @reprise/model: the transformer backbone (decoder or encoder), mask policies, sequence repetition and
 * the sequence-labeling head with early exit.
 */
export {
  type Architecture,
  type ArchitectureField,
  type TransformerConfig,
  ARCHITECTURE_DEFAULTS,
  DEFAULT_CONFIG,
  architecture,
  makeConfig,
  validateConfig,
} from './config.ts';
export { CONFIG_FIELD_LIMITS, MODEL_BYTES_LIMIT, configBytes, configSizeProblem } from './config-limits.ts';
export { type MaskPolicy, causalLayers, middleBand, parseMaskPolicy } from './masks.ts';
export {
  type BlockRole,
  type ParamInit,
  type ParamMap,
  type ParamSpec,
  blockParams,
  initParams,
  noDecayNames,
  paramShapes,
  paramSpecs,
  parameterCount,
  rowBlockLayout,
} from './params.ts';
export {
  ROW_BLOCKED_PARAMETERS,
  groupRowBlocks,
  joinedShape,
  parameterName,
  parseRowBlock,
  rowBlockName,
  rowBlockStarts,
} from './row-blocks.ts';
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
export {
  type Adapter,
  type LoraConfig,
  type LoraTarget,
  DEFAULT_LORA_TARGETS,
  LORA_TARGETS,
  LoraAdapters,
  adaptedLinear,
  attachLora,
  loraShapes,
  loraSpecs,
  makeLoraConfig,
  mergeLora,
  validateLoraConfig,
} from './lora.ts';
export { type RotaryConvention, type RotaryTables, rotaryTables, applyRotary } from './rotary.ts';
