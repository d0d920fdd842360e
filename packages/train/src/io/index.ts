/**
 * @file The public API of the I/O layer: safetensors, atomic writes, checkpoints, metrics log, SVG plots.
 */
export {
  type SafetensorsReadOptions,
  type HostDType,
  type HostTensor,
  type ReadableDType,
  type Safetensors,
  type SafetensorsEntry,
  type SafetensorsHeader,
  type StoredDType,
  STORED_DTYPE_BYTES,
  decodeSafetensors,
  decodeSafetensorsHeader,
  encodeSafetensors,
  hostTensor,
  readSafetensorsFile,
  readSafetensorsHeader,
} from './safetensors.ts';
export { writeFileAtomic, writeJsonAtomic } from './atomic.ts';
export { canonicalJson } from './canonical-json.ts';
export { writeDirAtomic, recoverAtomicDir, resolveAtomicDir, type WriteDirOptions } from './atomic-dir.ts';
export {
  CHECKPOINT_FILES,
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  OPTIMIZER_FORMAT,
  type Checkpoint,
  type LoadExpectations,
  type LoadOptions,
  loadCheckpoint,
  saveCheckpoint,
} from './checkpoint.ts';
export {
  type CheckpointEntry,
  checkpointName,
  latestCheckpoint,
  listCheckpoints,
  pruneCheckpoints,
} from './checkpoint-list.ts';
export {
  METRICS_FILE,
  MetricsLog,
  type MetricsLogOptions,
  type MetricsRecord,
  type ReadMetricsOptions,
  readMetrics,
  truncateMetricsAfterStep,
} from './metrics-log.ts';
export {
  type RunDirChoice,
  checkRunDir,
  discardEmptyRunDir,
  makeDir,
  prepareRunDir,
  runContents,
} from './run-dir.ts';
export { type InvalidUtf8, readTextFile } from './text.ts';
export {
  type BarChartOptions,
  type BarRow,
  type GroupedBarChartOptions,
  type GroupedBarRow,
  type LossCurveOptions,
  type LossSeries,
  barChartSvg,
  groupedBarChartSvg,
  lossCurveSvg,
  renderSvg,
  writeSvg,
} from './plots.ts';
export { markdownTable } from './markdown.ts';
