/**
 * Foreign (pretrained models') tokenizer.json files through HfTokenizer: word alignment that gives exactly the
 * ids of encoding the space-joined sentence with @huggingface/tokenizers, BOS per sentence (and so per SR copy),
 * refusals that list what is supported, labels on the right subwords, and the directory loader telling the
 * project's own files from foreign ones. Fixtures are written in hf-tokenizer-fixtures.ts.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { IGNORE_LABEL, repeatBatch } from '@reprise/model';
import { describe, expect, it } from 'vitest';
import {
  BpeTokenizer,
  HfTokenizer,
  TokenizerJsonError,
  type WordEncoding,
  type WordTokenizer,
  isOwnTokenizerJson,
  loadTokenizer,
  trainBpe,
} from '../src/tokenizer/index.ts';
import { buildLabelVocab, encodeLabeled } from '../src/training/labeled-batches.ts';
import { gpt2Json, llama2Json, llama3Json, mistralJson } from './hf-tokenizer-fixtures.ts';

/** Metaspace without a prefix on the first word: only the space before later words gives them their "▁". */
const llama2Never = () => {
  const doc = llama2Json();
  return { ...doc, pre_tokenizer: { ...doc.pre_tokenizer, prepend_scheme: 'never' } };
};
const fixtures = {
  gpt2: gpt2Json,
  llama3: llama3Json,
  llama2: llama2Json,
  llama2Never,
  mistral: mistralJson,
};
const styles: Record<string, string> = {
  gpt2: 'ByteLevel',
  llama3: 'ByteLevel',
  llama2: 'Metaspace',
  llama2Never: 'Metaspace',
  mistral: 'Metaspace (normalizer)',
};

const sentences: string[][] = [
  ['The', 'cat', 'sat'],
  ['the', 'cat', 'catting', 'the', 'catting'],
  ['Hello', ',', 'world', '!', 'He', 'said', '"', 'no', '"', '.'],
  ["don't", "it's", 'U.S.A.', '(hello)', 'well-known', '--', '...'],
  ['café', 'naïve', 'déjà', 'vu', '東京', '中文', '😀', '👩‍👩‍👧', 'Straße', 'İstanbul'],
  ['12345', '3.14', '1,000', '123', 'x2', '2x'],
  ['catting'],
  ['a', 'b', 'c', 'I', 'ä'],
];

/** The independent oracle: the whole space-joined sentence through @huggingface/tokenizers. */
function oracle(doc: object): Tokenizer {
  return new Tokenizer(doc, { clean_up_tokenization_spaces: false });
}

function expectAligned(enc: WordEncoding, words: readonly string[], before: number, after: number): void {
  expect(enc.wordOfToken).toHaveLength(enc.ids.length);
  expect(enc.firstTokenOfWord).toHaveLength(words.length);
  expect(enc.lastTokenOfWord).toHaveLength(words.length);
  for (let w = 0; w < words.length; w++) {
    const [first, last] = [enc.firstTokenOfWord[w]!, enc.lastTokenOfWord[w]!];
    expect(last).toBeGreaterThanOrEqual(first);
    expect(first).toBe(w === 0 ? before : enc.lastTokenOfWord[w - 1]! + 1);
    for (let k = first; k <= last; k++) expect(enc.wordOfToken[k]).toBe(w);
  }
  expect(enc.lastTokenOfWord.at(-1)).toBe(enc.ids.length - 1 - after);
  for (let k = 0; k < before; k++) expect(enc.wordOfToken[k]).toBe(-1);
  for (let k = enc.ids.length - after; k < enc.ids.length; k++) expect(enc.wordOfToken[k]).toBe(-1);
}

describe.each(Object.entries(fixtures))('%s-style tokenizer.json', (name, make) => {
  const doc = make();
  const tok = new HfTokenizer(doc, `${name}.json`);
  const hf = oracle(doc);
  const bos = name === 'gpt2' ? [] : [hf.token_to_id(name === 'llama3' ? '<|begin_of_text|>' : '<s>')];

  it('is read as the expected style, BOS from its post-processor', () => {
    expect(tok.pipeline.style).toBe(styles[name]);
    expect(tok.template).toEqual({ before: bos, after: [] });
    expect(tok.special.bos).toBe(bos[0]);
    expect(tok.vocabSize).toBe(hf.get_vocab(true).size);
  });

  it('gives exactly the ids of the whole sentence, word by word (punctuation, unicode, digits)', () => {
    for (const words of sentences) {
      const text = words.join(' ');
      const enc = tok.encodeWords(words);
      expect(enc.ids, text).toEqual(hf.encode(text).ids);
      expectAligned(enc, words, bos.length, 0);
      // Each word's subwords decode back to the word (after the space that precedes it in the sentence).
      words.forEach((word, w) => {
        const ids = enc.ids.slice(enc.firstTokenOfWord[w], enc.lastTokenOfWord[w]! + 1);
        expect(hf.decode(ids, { clean_up_tokenization_spaces: false }).trim(), text).toBe(word);
      });
      expect(tok.decode(enc.ids, { skipSpecialTokens: true })).toBe(text);
    }
  });

  it('without special tokens: the same words, no BOS', () => {
    const bare = new HfTokenizer(doc, `${name}.json`, { addSpecialTokens: false });
    for (const words of sentences) {
      const enc = bare.encodeWords(words);
      expect(enc.ids).toEqual(hf.encode(words.join(' '), { add_special_tokens: false }).ids);
      expectAligned(enc, words, 0, 0);
    }
  });

  it('splits a word the merges do not cover into several subwords', () => {
    const enc = tok.encodeWords(['the', 'catting']);
    const pieces = enc.ids.slice(enc.firstTokenOfWord[1], enc.lastTokenOfWord[1]! + 1);
    const space = styles[name] === 'ByteLevel' ? 'Ġ' : '▁';
    expect(pieces.map((id) => tok.idToToken(id))).toEqual([`${space}cat`, 't', 'ing']);
  });

  it('refuses an empty word by its index', () => {
    expect(() => tok.encodeWords(['the', ''])).toThrow(/word 1 is empty/);
  });
});

describe('agreement with the Rust library', () => {
  // Ids of `Tokenizer.from_str(json.dumps(fixture)).encode(text).ids` from Hugging Face tokenizers 0.22.2 (Python),
  // computed once by hand: an oracle independent of tokenizers.js, whose Metaspace ignores `split`.
  const text = "The catting sat , café 12345 don't 😀";
  const gpt2 = [
    264, 261, 116, 266, 263, 32, 44, 259, 97, 102, 267, 32, 269, 52, 53, 32, 100, 111, 110, 39, 116,
  ];
  const meta = [
    1, 340, 336, 279, 342, 338, 259, 323, 334, 260, 265, 198, 172, 259, 313, 314, 315, 316, 317, 259,
  ];
  const rust: Record<string, number[]> = {
    gpt2: [...gpt2, 32, 240, 159, 152, 128],
    llama3: [270, ...gpt2, 32, 240, 159, 152, 128],
    llama2: [...meta, 263, 274, 273, 326, 279, 259, 243, 162, 155, 131],
    mistral: [...meta, 263, 274, 273, 326, 279, 259, 243, 162, 155, 131],
  };
  it.each(Object.entries(rust))('%s', (name, ids) => {
    const make = fixtures[name as keyof typeof fixtures];
    expect(new HfTokenizer(make()).encodeWords(text.split(' ')).ids).toEqual(ids);
  });
});

describe('BOS and padding', () => {
  it('under sequence repetition every copy starts with BOS (Llama); GPT-2 copies start with the first word', () => {
    for (const [make, startsWithBos] of [
      [llama3Json, true],
      [gpt2Json, false],
    ] as const) {
      const tok = new HfTokenizer(make());
      const ids = tok.encodeWords(['The', 'cat', 'sat']).ids;
      const rep = repeatBatch([ids], { r: 2 }, { maxPositions: 64, padToken: tok.special.pad });
      const n = ids.length;
      const copies = [0, 1, 2].map((c) => Array.from(rep.tokens.subarray(c * n, (c + 1) * n)));
      expect(copies).toEqual([ids, ids, ids]);
      expect(copies.every((c) => c[0] === tok.special.bos)).toBe(startsWithBos);
      if (!startsWithBos) expect(tok.special.bos).toBeUndefined();
    }
  });

  it('names eos/pad/unk from the file, tokenizer_config.json, or the documented fallback', () => {
    const gpt2 = gpt2Json();
    const eot = gpt2.added_tokens[0]!.id;
    expect(new HfTokenizer(gpt2).special).toEqual({ pad: 0 });
    expect(
      new HfTokenizer(gpt2, 'x', { config: { eos_token: '<|endoftext|>', bos_token: null } }).special,
    ).toEqual({
      eos: eot,
      pad: eot,
    });
    const llama = llama2Json();
    expect(new HfTokenizer(llama).special).toEqual({ bos: 1, unk: 0, pad: 0 });
    const config = { eos_token: { content: '</s>', __type: 'AddedToken' }, pad_token: '<unk>' };
    expect(new HfTokenizer(llama, 'x', { config }).special).toEqual({ bos: 1, eos: 2, unk: 0, pad: 0 });
    expect(new HfTokenizer({ ...llama, padding: { pad_id: 2, pad_token: '</s>' } }).special.pad).toBe(2);
    expect(
      () => new HfTokenizer(llama, 'x', { config: { eos_token: '<eos>' }, configSource: 'c.json' }),
    ).toThrow(/c\.json: eos_token "<eos>" is not a token of x/);
  });
});

describe('refusals', () => {
  const refuse = (doc: object, pattern: RegExp) => {
    let error: unknown;
    try {
      new HfTokenizer(doc, 'dir/tokenizer.json');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(TokenizerJsonError);
    const message = (error as Error).message;
    expect(message).toMatch(pattern);
    expect(message).toContain('dir/tokenizer.json');
    expect(message).toContain('supported: model "BPE" with pre_tokenizer ByteLevel (GPT-2)');
  };

  it('a model that is not BPE', () => {
    const wordPiece = { ...gpt2Json(), model: { type: 'WordPiece', vocab: { a: 0 }, unk_token: 'a' } };
    refuse(wordPiece, /model\.type "WordPiece" is not supported/);
    refuse({ ...gpt2Json(), model: { ...gpt2Json().model, type: 'Unigram' } }, /model\.type "Unigram"/);
  });

  it('a pre-tokenizer or normalizer it does not handle', () => {
    refuse(
      { ...gpt2Json(), pre_tokenizer: { type: 'BertPreTokenizer' } },
      /must end with ByteLevel or Metaspace/,
    );
    refuse(
      {
        ...gpt2Json(),
        pre_tokenizer: { type: 'Sequence', pretokenizers: [BYTE_LEVEL_STEP, BYTE_LEVEL_STEP] },
      },
      /pretokenizers\[0\] .* is not supported before the last step/,
    );
    refuse({ ...gpt2Json(), normalizer: { type: 'Strip', strip_left: true } }, /normalizer step 0 .*Strip/);
    refuse({ ...llama2Json(), pre_tokenizer: null }, /pre_tokenizer is null with normalizer null/);
  });
});
const BYTE_LEVEL_STEP = { type: 'ByteLevel', add_prefix_space: false };

describe('encodeLabeled with a foreign tokenizer', () => {
  const sentences = [
    { words: ['The', 'catting', 'sat', 'café'], labels: ['DET', 'NOUN', 'VERB', 'NOUN'] },
    { words: ['catting', '!'], labels: ['NOUN', 'PUNCT'] },
  ];
  const vocab = buildLabelVocab(sentences);

  it.each([llama3Json, llama2Json, gpt2Json])(
    'labels land on first/last subwords, never on BOS (%o)',
    (make) => {
      const tok: WordTokenizer = new HfTokenizer(make());
      for (const labelSubword of ['first', 'last'] as const) {
        const encoded = encodeLabeled(sentences, tok, vocab, { maxTokens: 256, labelSubword });
        encoded.forEach((e, i) => {
          const enc = tok.encodeWords(sentences[i]!.words);
          const carrier = labelSubword === 'first' ? enc.firstTokenOfWord : enc.lastTokenOfWord;
          expect(e.ids).toEqual(enc.ids);
          expect(e.wordToken).toEqual(carrier);
          const expected = enc.ids.map(() => IGNORE_LABEL);
          carrier.forEach((t, w) => {
            expected[t] = vocab.index.get(sentences[i]!.labels[w]!)!;
          });
          expect(e.labels).toEqual(expected);
          if (tok.special.bos !== undefined)
            expect([e.ids[0], e.labels[0]]).toEqual([tok.special.bos, IGNORE_LABEL]);
        });
        // 'catting' has several subwords, so the first and last carriers differ (a meaningful test).
        const catting = tok.encodeWords(['catting']);
        expect(catting.lastTokenOfWord[0]! - catting.firstTokenOfWord[0]!).toBeGreaterThanOrEqual(2);
      }
    },
  );
});

describe('loadTokenizer', () => {
  const root = mkdtempSync(join(tmpdir(), 'reprise-tok-'));
  const dirWith = (name: string, files: Record<string, string>): string => {
    const dir = join(root, name);
    mkdirSync(dir, { recursive: true });
    for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
    return dir;
  };
  const own = trainBpe(
    Array.from({ length: 20 }, () => 'the cat sat on the mat'.split(' ')),
    { vocabSize: 280, minFrequency: 1 },
  );

  it("returns the project's own tokenizer as a BpeTokenizer, unchanged", () => {
    const dir = dirWith('own', { 'tokenizer.json': own.toJSON() });
    const loaded = loadTokenizer(dir);
    expect(loaded).toBeInstanceOf(BpeTokenizer);
    expect((loaded as BpeTokenizer).toJSON()).toBe(own.toJSON());
    expect(isOwnTokenizerJson(JSON.parse(own.toJSON()))).toBe(true);
    // The interface is what BpeTokenizer already is.
    const asInterface: WordTokenizer = own;
    expect(asInterface.encodeWords(['the', 'cat']).ids).toEqual(own.encodeWords(['the', 'cat']).ids);
  });

  it('a damaged file of ours meets the strict reader, not the foreign path', () => {
    const doc = JSON.parse(own.toJSON());
    doc.pre_tokenizer = { type: 'ByteLevel' };
    const dir = dirWith('own-damaged', { 'tokenizer.json': JSON.stringify(doc) });
    expect(() => loadTokenizer(dir)).toThrow(/pre_tokenizer must be Sequence\[WhitespaceSplit, Metaspace/);
  });

  it('returns an HfTokenizer for a foreign file, with tokenizer_config.json when present', () => {
    for (const make of Object.values(fixtures)) expect(isOwnTokenizerJson(make())).toBe(false);
    const plain = loadTokenizer(dirWith('llama3', { 'tokenizer.json': JSON.stringify(llama3Json()) }));
    expect(plain).toBeInstanceOf(HfTokenizer);
    const withConfig = loadTokenizer(
      dirWith('gpt2', {
        'tokenizer.json': JSON.stringify(gpt2Json()),
        'tokenizer_config.json': JSON.stringify({ eos_token: '<|endoftext|>', model_max_length: 1024 }),
      }),
    );
    expect(withConfig.special.eos).toBe(gpt2Json().added_tokens[0]!.id);
    const bad = dirWith('bad', {
      'tokenizer.json': JSON.stringify({ ...gpt2Json(), model: { type: 'WordLevel' } }),
    });
    expect(() => loadTokenizer(bad)).toThrow(
      /bad\/tokenizer\.json: model\.type "WordLevel" is not supported/,
    );
    expect(() => loadTokenizer(join(root, 'missing'))).toThrow(/missing\/tokenizer\.json: cannot read/);
    const broken = dirWith('broken', { 'tokenizer.json': '{"model": x}' });
    expect(() => loadTokenizer(broken)).toThrow(/broken\/tokenizer\.json(:\d+:\d+)?: not valid JSON/);
  });
});
