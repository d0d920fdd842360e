/**
 * @file Public API of the subword BPE tokenizer: training, encoding with word alignment, tokenizer.json I/O.
 */
export { trainBpe, BASE_VOCAB_SIZE, type TrainBpeOptions } from './train.ts';
export {
  BpeTokenizer,
  type BpeTokenizerConfig,
  type DecodeOptions,
  type WordEncoding,
} from './tokenizer.ts';
export { TokenizerJsonError } from './hf-json-read.ts';
export { SPECIAL_TOKENS, type SpecialIds, type SpecialName } from './special.ts';
export { METASPACE } from './pretokenize.ts';
