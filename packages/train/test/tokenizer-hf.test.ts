/**
 * Cross-check against an independent implementation: @huggingface/tokenizers (tokenizers.js) loads the
 * tokenizer.json we write and must give exactly our ids, and the same decoded text, on held-out text.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { describe, expect, it } from 'vitest';
import { type BpeTokenizer, trainBpe } from '../src/tokenizer/index.ts';
import { corpusOfWords, lexicon, sentences } from './tokenizer-corpus.ts';

const corpus = corpusOfWords(60_000);
// A different lexicon and seed: many held-out words never occurred in training.
const heldOut = sentences(400, 31337, lexicon(120_000, 77)).map((s) => s.join(' '));
const awkward = [
  'naïve café déjà vu',
  'emoji 😀 👩‍👩‍👧 and 東京 中文 한국어',
  'spaces  tabs\tnew\nlines   ',
  '  leading and trailing  ',
  '[BOS] the cat [SEP] dog[MASK]x [EOS] [PAD][PAD]',
  'ΟΔΟΣ ΣΟΦΟΣ Straße İstanbul',
  '<0x41> <0xZZ> ▁ a▁b',
  "it's don't 1,000 3.14 U.S.A. -- ( )",
];

function hfOf(tok: BpeTokenizer): Tokenizer {
  return new Tokenizer(JSON.parse(tok.toJSON()), { clean_up_tokenization_spaces: false });
}

describe.each([false, true])('tokenizers.js agrees (lowercase %s)', (lowercase) => {
  const tok = trainBpe(corpus, { vocabSize: 2500, lowercase });
  const hf = hfOf(tok);

  it('on the vocabulary and special ids', () => {
    expect(hf.get_vocab().size).toBe(tok.vocabSize);
    for (let id = 0; id < tok.vocabSize; id++) expect(hf.id_to_token(id)).toBe(tok.idToToken(id));
    for (const [name, id] of Object.entries(tok.special))
      expect(hf.token_to_id(`[${name.toUpperCase()}]`)).toBe(id);
  });

  it('on ids for held-out sentences', () => {
    let tokens = 0;
    for (const text of heldOut) {
      const ours = tok.encode(text);
      expect(hf.encode(text).ids, text).toEqual(ours);
      tokens += ours.length;
    }
    expect(tokens).toBeGreaterThan(heldOut.length * 5);
  });

  it('on ids and decoded text for awkward input', () => {
    for (const text of awkward) {
      const ours = tok.encode(text);
      expect(hf.encode(text).ids, text).toEqual(ours);
      expect(hf.decode(ours, { clean_up_tokenization_spaces: false }), text).toBe(tok.decode(ours));
    }
  });

  it('on decoded text for held-out sentences', () => {
    for (const text of heldOut.slice(0, 100)) {
      const ids = tok.encode(text);
      expect(hf.decode(ids, { clean_up_tokenization_spaces: false })).toBe(tok.decode(ids));
      expect(hf.decode(ids, { skip_special_tokens: true, clean_up_tokenization_spaces: false })).toBe(
        tok.decode(ids, { skipSpecialTokens: true }),
      );
    }
  });
});
