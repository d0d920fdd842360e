/**
 * @file Public API of the subword BPE tokenizer (training, encoding with word alignment, tokenizer.json I/O)
 * and of foreign Hugging Face tokenizers behind the same `WordTokenizer` interface.
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
export type { WordTokenizer } from './word-tokenizer.ts';
export { HfTokenizer, type HfTokenizerOptions } from './hf-tokenizer.ts';
export { SUPPORTED_FOREIGN, type ForeignPipeline, type WordContext } from './hf-foreign-check.ts';
export { isOwnTokenizerJson, loadTokenizer, tokenizerFromJson } from './load.ts';
