/**
 * @file Serializes a BPE tokenizer to the Hugging Face tokenizer.json layout (version 1.0, BPE model with
 * byte fallback), loadable by HF `tokenizers` and tokenizers.js.
 */
import type { BpeModel } from './bpe-model.ts';
import { DECODER, PRE_TOKENIZER, normalizerConfig } from './hf-layout.ts';

/** `specialIds` become added_tokens (special: true); `unk` names the model's unk_token. */
export function tokenizerJson(
  model: BpeModel,
  specialIds: readonly number[],
  unk: number,
  lowercase: boolean,
): string {
  const added = [...specialIds]
    .sort((a, b) => a - b)
    .map((id) => ({
      id,
      content: model.tokens[id]!,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    }));
  const doc = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: normalizerConfig(lowercase),
    pre_tokenizer: PRE_TOKENIZER,
    post_processor: null,
    decoder: DECODER,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: model.tokens[unk],
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: true,
      ignore_merges: false,
      // fromEntries defines own properties, so even a token spelled "__proto__" survives.
      vocab: Object.fromEntries(model.tokens.map((t, id) => [t, id])),
      merges: model.merges.map(([a, b]) => [a, b]),
    },
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}
