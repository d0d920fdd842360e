/**
 * @file The public data API: the Brown corpus, its tag sets, split and tasks, and CoNLL and CoNLL-U files.
 */
export { type BrownDocument, type BrownSentence, brownDirectory, loadBrown } from './brown.ts';
export {
  type ConllFormat,
  type ConllOptions,
  type PredictionRow,
  checkLabels,
  detectConllFormat,
  formatConll,
  parseConll,
  readConll,
  writeConll,
} from './conll.ts';
export { CONLLU_COLUMNS, parseConllu } from './conllu.ts';
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
