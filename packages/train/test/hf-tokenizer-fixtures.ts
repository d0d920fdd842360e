/**
 * Small foreign tokenizer.json documents written here, in the layouts pretrained models ship (nothing is
 * downloaded): GPT-2 (ByteLevel, "Ġ"), Llama-3 (Split regex then ByteLevel, <|begin_of_text|>), Llama-2
 * (Metaspace "▁" with byte fallback, <s>) and older Mistral/Llama-2 files (Prepend/Replace normalizer).
 * Vocabularies are the byte alphabet or single characters plus the hand-written merges below.
 */

type Merge = readonly [string, string];

/** GPT-2's reversible byte → printable character map (bytes_to_unicode in openai/gpt-2 encoder.py). */
export const BYTE_CHARS: readonly string[] = (() => {
  const printable = (b: number) =>
    (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const out: string[] = [];
  let next = 256;
  for (let b = 0; b < 256; b++) out.push(String.fromCharCode(printable(b) ? b : next++));
  return out;
})();

/** Base tokens then one token per merge, in merge order. */
function vocabOf(base: readonly string[], merges: readonly Merge[]): Record<string, number> {
  const tokens = [...base];
  for (const [a, b] of merges) if (!tokens.includes(a + b)) tokens.push(a + b);
  return Object.fromEntries(tokens.map((t, id) => [t, id]));
}

function added(id: number, content: string) {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

function template(bos: string, bosId: number) {
  const sp = { SpecialToken: { id: bos, type_id: 0 } };
  return {
    type: 'TemplateProcessing',
    single: [sp, { Sequence: { id: 'A', type_id: 0 } }],
    pair: [sp, { Sequence: { id: 'A', type_id: 0 } }, sp, { Sequence: { id: 'B', type_id: 1 } }],
    special_tokens: { [bos]: { id: bos, ids: [bosId], tokens: [bos] } },
  };
}

const BYTE_LEVEL = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };

/** "Ġthe", "Ġcat", "Ġsat" whole; "catting" → "Ġcat" "t" "ing"; "é" one token "Ã©". */
const BYTE_MERGES: Merge[] = [
  ['Ġ', 't'],
  ['h', 'e'],
  ['Ġt', 'he'],
  ['Ġ', 'c'],
  ['a', 't'],
  ['Ġc', 'at'],
  ['Ġ', 's'],
  ['Ġs', 'at'],
  ['T', 'he'],
  ['i', 'n'],
  ['in', 'g'],
  ['Ã', '©'],
  ['1', '2'],
  ['12', '3'],
];

/** GPT-2: ByteLevel pre-tokenizer, post-processor and decoder; <|endoftext|> the only added token. */
export function gpt2Json() {
  const vocab = vocabOf(BYTE_CHARS, BYTE_MERGES);
  const eot = Object.keys(vocab).length;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [added(eot, '<|endoftext|>')],
    normalizer: null,
    pre_tokenizer: BYTE_LEVEL,
    post_processor: { ...BYTE_LEVEL, use_regex: true },
    decoder: { ...BYTE_LEVEL },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges: BYTE_MERGES.map(([a, b]) => `${a} ${b}`),
    },
  };
}

/** Llama-3's split pattern (its tokenizer.json, pre_tokenizer.pretokenizers[0].pattern.Regex). */
export const LLAMA3_PATTERN = String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;

/** Llama-3: Split then ByteLevel (no regex), TemplateProcessing adding <|begin_of_text|>; merges as pairs. */
export function llama3Json() {
  const vocab = vocabOf(BYTE_CHARS, BYTE_MERGES);
  const n = Object.keys(vocab).length;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [added(n, '<|begin_of_text|>'), added(n + 1, '<|end_of_text|>')],
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: LLAMA3_PATTERN }, behavior: 'Isolated', invert: false },
        { ...BYTE_LEVEL, use_regex: false },
      ],
    },
    post_processor: {
      type: 'Sequence',
      processors: [{ ...BYTE_LEVEL, use_regex: true }, template('<|begin_of_text|>', n)],
    },
    decoder: { ...BYTE_LEVEL },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: true,
      vocab,
      merges: BYTE_MERGES.map(([a, b]) => [a, b]),
    },
  };
}

/** Metaspace merges: "▁the", "▁cat", "▁sat" whole; "▁catting" → "▁cat" "t" "ing". */
const META_MERGES: Merge[] = [
  ['▁', 't'],
  ['h', 'e'],
  ['▁t', 'he'],
  ['▁', 'c'],
  ['a', 't'],
  ['▁c', 'at'],
  ['▁', 's'],
  ['▁s', 'at'],
  ['▁', 'T'],
  ['▁T', 'he'],
  ['i', 'n'],
  ['in', 'g'],
];
const META_CHARS = [...'▁abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?\'"()-'];
const BYTE_TOKENS = Array.from(
  { length: 256 },
  (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`,
);

function metaModel() {
  return {
    type: 'BPE',
    dropout: null,
    unk_token: '<unk>',
    continuing_subword_prefix: null,
    end_of_word_suffix: null,
    fuse_unk: true,
    byte_fallback: true,
    vocab: vocabOf(['<unk>', '<s>', '</s>', ...BYTE_TOKENS, ...META_CHARS], META_MERGES),
    merges: META_MERGES.map(([a, b]) => `${a} ${b}`),
  };
}

const META_DECODER = {
  type: 'Sequence',
  decoders: [
    { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
    { type: 'ByteFallback' },
    { type: 'Fuse' },
    { type: 'Strip', content: ' ', start: 1, stop: 0 },
  ],
};

/** Llama-2 as newer tokenizers save it: Metaspace(prepend_scheme "first"), byte fallback, <s> added. */
export function llama2Json() {
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [added(0, '<unk>'), added(1, '<s>'), added(2, '</s>')],
    normalizer: null,
    pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false },
    post_processor: template('<s>', 1),
    decoder: META_DECODER,
    model: metaModel(),
  };
}

/** Mistral-7B / older Llama-2 files: no pre-tokenizer, normalizer Prepend("▁") then Replace(" " → "▁"). */
export function mistralJson() {
  return {
    ...llama2Json(),
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: '▁' },
        { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
      ],
    },
    pre_tokenizer: null,
  };
}
