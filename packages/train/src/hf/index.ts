/**
 * @file Hugging Face interop, the file-format and mapping layer: config.json → `HfModelSpec`, tensor names ↔
 * roles (with the layout changes), and the weight files (single or sharded; F32, F16, BF16); roles ↔ the
 * project's parameter names, importing a model directory as a Transformer, and exporting one as a directory
 * transformers loads.
 */
export {
  HF_ARCHITECTURES,
  type HfArchitecture,
  type HfModelSpec,
  type HfModelType,
  hfModelSpec,
  loadHfConfig,
} from './config.ts';
export {
  type GlobalRole,
  type HfTensorCheck,
  type LayerRole,
  type RoleTensor,
  checkHfTensors,
  hfRoleTensors,
  matchHfTensors,
  supportedHfNames,
} from './names.ts';
export { hfFromRoles, rolesFromHf } from './layout.ts';
export {
  HF_INDEX_FILE,
  HF_SAFETENSORS_METADATA,
  HF_WEIGHTS_FILE,
  type HfWeightFile,
  type HfWeightHeaders,
  encodeHfSafetensors,
  readHfWeightHeaders,
  readHfWeights,
  readShardIndex,
} from './weights.ts';
export { projectFromRoles, projectParamName, rolesFromProject } from './params.ts';
export {
  HF_CONFIG_FILE,
  type HfConfigOptions,
  type ImportedHfModel,
  importHfModel,
  isHfModelDir,
  transformerConfigFromHf,
} from './import.ts';
export {
  type ExportTagger,
  type ExportTokenizer,
  type HfExportInput,
  type HfExportResult,
  exportHf,
  hfConfigJson,
  hfModelTypeFor,
} from './export.ts';
