/**
 * @file @reprise/train: data (Brown, CoNLL), metrics, the BPE tokenizer, checkpoints and logs, pretraining,
 * fine-tuning for sequence labeling and evaluation, Hugging Face import and export. The `reprise` CLI lives in `src/cli/`.
 */
export * from './data/index.ts';
export * from './metrics/index.ts';
export * from './tokenizer/index.ts';
export * from './io/index.ts';
export {
  type PretrainOptions,
  type PretrainResult,
  PRETRAIN_DEFAULTS,
  pretrain,
} from './training/pretrain.ts';
export {
  type FinetuneOptions,
  type FinetuneResult,
  type EpochRecord,
  FINETUNE_DEFAULTS,
  finetune,
} from './training/finetune.ts';
export {
  METHODS,
  type Method,
  type MethodOptions,
  labelerSettings,
  methodLabel,
} from './training/methods.ts';
export { type Evaluation, evaluate, predictWords } from './training/evaluate.ts';
export { loadBackbone, saveBackbone } from './training/backbone-checkpoint.ts';
export {
  type HfExportInput,
  type HfExportResult,
  type ImportedHfModel,
  exportHf,
  importHfModel,
  isHfModelDir,
} from './hf/index.ts';
export {
  type HalfScore,
  type InductionOptions,
  type InductionScore,
  inductionScore,
  repeatedRandomSequences,
} from './analysis/induction.ts';
export {
  type TwinAttention,
  type TwinAttentionOptions,
  attentionToTwin,
} from './analysis/attention-to-twin.ts';
export { loadLabeler, saveLabeler } from './training/labeler-checkpoint.ts';
export {
  type ConllTaskOptions,
  type TaskData,
  brownTaskData,
  conllTaskData,
  spanScheme,
  tagFloor,
} from './training/tasks.ts';
export type { TrainingEvent, EventSink } from './training/events.ts';
export {
  EXIT_INTERRUPTED,
  type InterruptHandlers,
  installInterruptHandler,
  isInterrupted,
} from './training/loop.ts';
export {
  EXPERIMENT_TASKS,
  type ExperimentConfig,
  type ExperimentTask,
  type RunGroup,
  type RunSpec,
  type Variant,
  expandRuns,
  loadExperimentConfig,
  validateExperimentConfig,
  variantKey,
} from './experiments/config.ts';
export {
  type ExperimentRecord,
  type RunRecord,
  readExperimentLog,
  runExperiment,
} from './experiments/runner.ts';
export { type Summary, pairedDifference, summarize } from './experiments/stats.ts';
export { aggregate } from './experiments/aggregate.ts';
export { writeExperimentReport } from './experiments/report.ts';
