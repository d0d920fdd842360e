/**
 * @file The tokenizer.json pipeline pieces this tokenizer implements, shared by the writer and the reader:
 * WhitespaceSplit + Metaspace pre-tokenizer, optional Lowercase normalizer, ByteFallback + Metaspace decoder.
 */
import { METASPACE } from './pretokenize.ts';

const METASPACE_CONFIG = {
  type: 'Metaspace',
  replacement: METASPACE,
  prepend_scheme: 'always',
  split: false,
};

export const PRE_TOKENIZER = {
  type: 'Sequence',
  pretokenizers: [{ type: 'WhitespaceSplit' }, METASPACE_CONFIG],
};

export const DECODER = {
  type: 'Sequence',
  decoders: [{ type: 'ByteFallback' }, METASPACE_CONFIG],
};

export function normalizerConfig(lowercase: boolean): { type: 'Lowercase' } | null {
  return lowercase ? { type: 'Lowercase' } : null;
}
