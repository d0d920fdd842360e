/**
 * @file The fixed special tokens (ids 0..5 in every tokenizer this package trains) and their named ids.
 */

/** Special tokens in id order; a trained tokenizer gives `SPECIAL_TOKENS[i]` the id `i`. */
export const SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[BOS]', '[EOS]', '[SEP]', '[MASK]'] as const;

export type SpecialName = 'pad' | 'unk' | 'bos' | 'eos' | 'sep' | 'mask';

/** Named ids of the special tokens, e.g. `tokenizer.special.pad`. */
export type SpecialIds = Readonly<Record<SpecialName, number>>;

/** Token content of each named special. */
export const SPECIAL_CONTENT: Readonly<Record<SpecialName, string>> = {
  pad: '[PAD]',
  unk: '[UNK]',
  bos: '[BOS]',
  eos: '[EOS]',
  sep: '[SEP]',
  mask: '[MASK]',
};
