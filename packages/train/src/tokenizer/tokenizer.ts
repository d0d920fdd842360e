/**
 * @file BpeTokenizer: encodes words (with word ↔ subword alignment) and text, decodes ids, and saves/loads the
 * Hugging Face tokenizer.json layout.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../io/atomic.ts';
import { readFileBytes } from '../io/read-file.ts';
import { decodeUtf8Strict } from '../io/text.ts';
import { BpeModel } from './bpe-model.ts';
import { decodeTokens } from './decode.ts';
import { parseTokenizerJson } from './hf-json-read.ts';
import { tokenizerJson } from './hf-json-write.ts';
import { metaspaceWord, splitWhitespace } from './pretokenize.ts';
import { SpecialSplitter } from './special-split.ts';
import { SPECIAL_CONTENT, type SpecialIds, type SpecialName } from './special.ts';

export interface BpeTokenizerConfig {
  /** id → token string, dense; includes the special tokens at their ids. */
  tokens: readonly string[];
  /** Merges in rank order (earliest applied first); each result must be in `tokens`. */
  merges: readonly (readonly [string, string])[];
  special: SpecialIds;
  /** Every special (added) token id; defaults to the named ones in `special`. */
  specialIds?: readonly number[];
  lowercase: boolean;
}

/** Subword ids of a word sequence with the alignment between words and subwords. */
export interface WordEncoding {
  ids: number[];
  /**
   * For each subword, the index of the word it belongs to; −1 for a token the tokenizer adds around the words
   * (a foreign tokenizer's BOS, see `HfTokenizer`; the project's own tokenizer adds none).
   */
  wordOfToken: number[];
  /** For each word, the index of its first subword (strictly increasing; every word has ≥ 1 subword). */
  firstTokenOfWord: number[];
  /** For each word, the index of its last subword. */
  lastTokenOfWord: number[];
}

export interface DecodeOptions {
  /** Drop special tokens ([PAD], [BOS], …) before decoding. */
  skipSpecialTokens?: boolean;
}

// Bounds memory on open-ended input; a corpus's word types fit many times over.
const CACHE_LIMIT = 1 << 18;

/** Named special ids from a token → id map; throws if one is missing. */
export function specialIdsOf(ids: ReadonlyMap<string, number>): SpecialIds {
  const out = {} as Record<SpecialName, number>;
  for (const [name, content] of Object.entries(SPECIAL_CONTENT) as [SpecialName, string][]) {
    const id = ids.get(content);
    if (id === undefined) throw new Error(`tokenizer: special token ${content} missing from the vocab`);
    out[name] = id;
  }
  return out;
}

export class BpeTokenizer {
  readonly special: SpecialIds;
  readonly lowercase: boolean;
  private readonly model: BpeModel;
  private readonly specialIds: readonly number[];
  private readonly isSpecial: ReadonlySet<number>;
  private readonly splitter: SpecialSplitter;
  /** Normalized word → ids; words repeat a lot. */
  private readonly cache = new Map<string, readonly number[]>();

  constructor(config: BpeTokenizerConfig) {
    this.model = new BpeModel(config.tokens, config.merges);
    this.special = Object.freeze({ ...config.special });
    this.lowercase = config.lowercase;
    this.specialIds = config.specialIds ?? Object.values(config.special);
    this.isSpecial = new Set(this.specialIds);
    this.splitter = new SpecialSplitter(new Map(this.specialIds.map((id) => [config.tokens[id]!, id])));
  }

  get vocabSize(): number {
    return this.model.size;
  }

  /** Merges in rank order, as saved in tokenizer.json. */
  get merges(): readonly (readonly [string, string])[] {
    return this.model.merges;
  }

  tokenToId(token: string): number | undefined {
    return this.model.ids.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.model.tokens[id];
  }

  /**
   * Encodes pre-split words, one or more subwords each. A word equal to a special token's text (e.g. `[SEP]`)
   * becomes that special id; anything else, whitespace included, is encoded as one word.
   */
  encodeWords(words: readonly string[]): WordEncoding {
    const ids: number[] = [];
    const wordOfToken: number[] = [];
    const firstTokenOfWord: number[] = [];
    const lastTokenOfWord: number[] = [];
    for (let w = 0; w < words.length; w++) {
      const word = words[w]!;
      firstTokenOfWord.push(ids.length);
      const special = this.splitter.exact(word);
      if (special !== undefined) ids.push(special);
      else for (const id of this.wordIds(this.lowercase ? word.toLowerCase() : word)) ids.push(id);
      while (wordOfToken.length < ids.length) wordOfToken.push(w);
      lastTokenOfWord.push(ids.length - 1);
    }
    return { ids, wordOfToken, firstTokenOfWord, lastTokenOfWord };
  }

  /**
   * Encodes raw text the way HF tokenizers does with the saved tokenizer.json: special-token strings are cut
   * out first, the rest is lowercased (if configured) and split on whitespace.
   */
  encode(text: string): number[] {
    const ids: number[] = [];
    for (const section of this.splitter.split(text)) {
      if (section.special !== undefined) {
        ids.push(section.special);
        continue;
      }
      const normalized = this.lowercase ? section.text.toLowerCase() : section.text;
      for (const word of splitWhitespace(normalized)) for (const id of this.wordIds(word)) ids.push(id);
    }
    return ids;
  }

  /** Ids back to text: words joined by single spaces. Throws on an id outside the vocab. */
  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    const tokens: string[] = [];
    for (const id of ids) {
      const token = this.model.tokens[id];
      if (token === undefined)
        throw new RangeError(`tokenizer.decode: id ${id} is outside 0..${this.vocabSize - 1}`);
      if (!(options.skipSpecialTokens && this.isSpecial.has(id))) tokens.push(token);
    }
    return decodeTokens(tokens);
  }

  /** The tokenizer.json text (HF layout, version 1.0). */
  toJSON(): string {
    return tokenizerJson(this.model, this.specialIds, this.special.unk, this.lowercase);
  }

  /** Parses tokenizer.json text; `source` (a path) is named in validation errors. */
  static fromJSON(text: string, source?: string): BpeTokenizer {
    return new BpeTokenizer(parseTokenizerJson(text, source));
  }

  /** Writes tokenizer.json atomically (temporary file, then rename). */
  save(path: string): void {
    mkdirSync(dirname(path), { recursive: true });
    writeFileAtomic(path, this.toJSON());
  }

  static load(path: string): BpeTokenizer {
    let text: string;
    try {
      // Strict UTF-8: a replaced byte would silently change a token.
      text = decodeUtf8Strict(readFileBytes(path, { maxBytes: 256 * 2 ** 20 }), path);
    } catch (err) {
      throw new Error(`tokenizer.json ${path}: cannot read (${(err as Error).message})`);
    }
    return BpeTokenizer.fromJSON(text, path);
  }

  private wordIds(word: string): readonly number[] {
    let ids = this.cache.get(word);
    if (ids === undefined) {
      const out: number[] = [];
      this.model.encodeWord(metaspaceWord(word), out);
      ids = out;
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      this.cache.set(word, ids);
    }
    return ids;
  }
}
