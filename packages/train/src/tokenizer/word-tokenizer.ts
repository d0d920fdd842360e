/**
 * @file What the training code needs from a tokenizer: words in, subword ids with the word ↔ subword
 * alignment out, the vocabulary size and the named special ids it has. The project's own `BpeTokenizer` and
 * `HfTokenizer` (a foreign Hugging Face tokenizer.json) both implement it.
 */
import type { SpecialName } from './special.ts';
import type { WordEncoding } from './tokenizer.ts';

export interface WordTokenizer {
  /** Ids run 0..vocabSize−1. */
  readonly vocabSize: number;
  /**
   * Named special ids: the project's tokenizers have all six; a foreign one only those it defines (GPT-2 has
   * no pad, sep or mask), so a caller that needs one checks for it.
   */
  readonly special: Readonly<Partial<Record<SpecialName, number>>>;
  /** Pre-split words → subword ids and alignment; see `WordEncoding`. */
  encodeWords(words: readonly string[]): WordEncoding;
}
