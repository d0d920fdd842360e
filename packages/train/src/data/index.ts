/**
 * @file The public data API: the Brown corpus, its tag sets, split and tasks, and CoNLL files.
 */
export { type BrownDocument, type BrownSentence, brownDirectory, loadBrown } from './brown.ts';
export {
  type ConllOptions,
  type PredictionRow,
  checkLabels,
  formatConll,
  parseConll,
  readConll,
  writeConll,
} from './conll.ts';
export type { LabeledSentence } from './labeled.ts';
export { NAME_LABELS, isProperNounTag, nameLabels } from './names.ts';
export { SPLITS, type Split, brownSplit, splitOfDocuments } from './split.ts';
export { BROWN_TASKS, type BrownTask, brownTask, pretrainingSentences } from './tasks.ts';
export { pretrainingText } from './pretraining-text.ts';
export {
  SYNTHETIC_WORDS,
  type SyntheticOptions,
  syntheticClass,
  syntheticSentences,
} from './synthetic.ts';
export { type TagSet, brownBaseTag, tagIn, universalTag } from './tagsets.ts';
export { UNIVERSAL_MAP_PATH, UNIVERSAL_TAGS, universalMap } from './universal-map.ts';
