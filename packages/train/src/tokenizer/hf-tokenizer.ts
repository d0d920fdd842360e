/**
 * @file HfTokenizer: a foreign Hugging Face tokenizer.json (a pretrained model's: GPT-2, Llama, Mistral, Qwen2)
 * encoded through @huggingface/tokenizers, with the word ↔ subword alignment the labeler needs.
 *
 * Each word is encoded as it appears inside the space-joined sentence (see `WordContext`), so the ids are those
 * of `tokenizer(words.join(' '))` in transformers wherever no piece of the pre-tokenizer and no merge spans the
 * space between two words (true of the regexes and vocabularies these models ship; a word that is exactly an
 * added token's text becomes that token, where the whole sentence would also encode the space next to it).
 * Like `tokenizer(text)`, the post-processor's tokens are added around the words: Llama's `<s>` or
 * `<|begin_of_text|>` comes first, so under sequence repetition every copy starts with it, as in the reference
 * code (its input ids, BOS included, are repeated). GPT-2 and Qwen2 add none: a copy starts with its first word.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { quote } from '../io/validate.ts';
import {
  type ForeignPipeline,
  type Json,
  checkForeignPipeline,
  isObject,
  parseTokenizerText,
} from './hf-foreign-check.ts';
import { TokenizerJsonError } from './hf-json-read.ts';
import type { SpecialName } from './special.ts';
import type { DecodeOptions, WordEncoding } from './tokenizer.ts';
import type { WordTokenizer } from './word-tokenizer.ts';

export interface HfTokenizerOptions {
  /**
   * The parsed tokenizer_config.json beside the file, if any: its `eos_token`, `pad_token` and `unk_token`
   * name special tokens that tokenizer.json alone does not mark.
   */
  config?: unknown;
  /** Its path, for messages. */
  configSource?: string;
  /** Add the post-processor's tokens (BOS…) around each word sequence, as `tokenizer(text)` does; default true. */
  addSpecialTokens?: boolean;
}

// Bounds memory on open-ended input, as in BpeTokenizer.
const CACHE_LIMIT = 1 << 18;

export class HfTokenizer implements WordTokenizer {
  readonly vocabSize: number;
  /**
   * bos: the one token the post-processor puts before the words (absent for GPT-2, Qwen2); eos: the one it puts
   * after them, else tokenizer_config.json's `eos_token`; unk: the model's or the config's; pad: the file's
   * padding token, else the config's `pad_token`, else eos, else 0. Any id serves as padding: padded positions
   * are masked out of attention and loss. sep and mask: never (foreign decoders have none to rely on).
   */
  readonly special: Readonly<Partial<Record<SpecialName, number>>>;
  /** The tokens encodeWords adds before and after the words (empty when `addSpecialTokens` is false). */
  readonly template: { readonly before: readonly number[]; readonly after: readonly number[] };
  readonly pipeline: ForeignPipeline;
  private readonly addSpecialTokens: boolean;
  private readonly hf: Tokenizer;
  private readonly source: string;
  /** The document as given, for toJSON. */
  private readonly doc: unknown;
  /** Added tokens by content: a word equal to one becomes that token. */
  private readonly addedIds: ReadonlyMap<string, number>;
  /** (first word? "0" : "1") + word → ids. */
  private readonly cache = new Map<string, readonly number[]>();

  constructor(doc: unknown, source = '<object>', options: HfTokenizerOptions = {}) {
    this.pipeline = checkForeignPipeline(doc, source);
    this.source = source;
    this.doc = doc;
    const d = doc as Json;
    // tokenizers.js wants every pipeline key present; a file may leave the null ones out.
    const complete = { ...d, added_tokens: d.added_tokens ?? [] } as Json;
    for (const key of ['normalizer', 'pre_tokenizer', 'post_processor', 'decoder']) complete[key] ??= null;
    try {
      this.hf = new Tokenizer(complete, { clean_up_tokenization_spaces: false });
    } catch (err) {
      throw new TokenizerJsonError(
        `tokenizer.json ${source}: @huggingface/tokenizers refused it (${(err as Error).message})`,
      );
    }
    const model = d.model as Json;
    const added = (complete.added_tokens as unknown[]).map((t, i) => addedToken(t, i, source));
    this.addedIds = new Map(added.map((t) => [t.content, t.id]));
    this.vocabSize = vocabSizeOf(model.vocab as Json, added, source);

    this.addSpecialTokens = options.addSpecialTokens ?? true;
    const around = this.postProcessorTokens();
    this.template = this.addSpecialTokens ? around : { before: [], after: [] };

    const config = isObject(options.config) ? options.config : {};
    const configSource = options.configSource ?? 'tokenizer_config.json';
    const named = (key: string): number | undefined => {
      const value = config[key];
      const content = isObject(value) ? value.content : value;
      if (content == null) return undefined;
      if (typeof content !== 'string')
        throw new TokenizerJsonError(
          `${configSource}: ${key} must be a string or {"content": …}, found ${quote(value)}`,
        );
      const id = this.hf.token_to_id(content);
      if (id === undefined)
        throw new TokenizerJsonError(`${configSource}: ${key} ${quote(content)} is not a token of ${source}`);
      return id;
    };
    const special: Partial<Record<SpecialName, number>> = {};
    if (around.before.length === 1) special.bos = around.before[0]!;
    const eos = around.after.length === 1 ? around.after[0] : named('eos_token');
    if (eos !== undefined) special.eos = eos;
    const unk =
      typeof model.unk_token === 'string' ? this.hf.token_to_id(model.unk_token) : named('unk_token');
    if (unk !== undefined) special.unk = unk;
    special.pad = this.filePad(d.padding) ?? named('pad_token') ?? eos ?? 0;
    this.special = Object.freeze(special);
  }

  /** Parses tokenizer.json text; `source` (a path) is named in errors. */
  static fromJSON(text: string, source = '<string>', options: HfTokenizerOptions = {}): HfTokenizer {
    return new HfTokenizer(parseTokenizerText(text, source), source, options);
  }

  /** The tokenizer.json document it was made from (what a checkpoint or an export stores). */
  toJSON(): string {
    return JSON.stringify(this.doc);
  }

  tokenToId(token: string): number | undefined {
    return this.hf.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.hf.id_to_token(id);
  }

  /**
   * Encodes pre-split words: the template's tokens (wordOfToken −1) around each word's subwords. Throws on an
   * empty word and on a word the vocabulary cannot encode (no unk, no byte fallback).
   */
  encodeWords(words: readonly string[]): WordEncoding {
    const ids: number[] = [...this.template.before];
    const wordOfToken: number[] = ids.map(() => -1);
    const firstTokenOfWord: number[] = [];
    const lastTokenOfWord: number[] = [];
    words.forEach((word, w) => {
      firstTokenOfWord.push(ids.length);
      for (const id of this.wordIds(word, w)) ids.push(id);
      while (wordOfToken.length < ids.length) wordOfToken.push(w);
      lastTokenOfWord.push(ids.length - 1);
    });
    for (const id of this.template.after) {
      ids.push(id);
      wordOfToken.push(-1);
    }
    return { ids, wordOfToken, firstTokenOfWord, lastTokenOfWord };
  }

  /** Text → ids exactly as @huggingface/tokenizers does (special tokens per `addSpecialTokens`). */
  encode(text: string): number[] {
    return this.hf.encode(text, { add_special_tokens: this.addSpecialTokens }).ids;
  }

  /** Ids → text through the file's decoder. */
  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize)
        throw new RangeError(`tokenizer.decode: id ${id} is outside 0..${this.vocabSize - 1}`);
    }
    if (ids.length === 0) return '';
    return this.hf.decode([...ids], {
      skip_special_tokens: options.skipSpecialTokens ?? false,
      clean_up_tokenization_spaces: false,
    });
  }

  private wordIds(word: string, index: number): readonly number[] {
    const key = (index === 0 ? '0' : '1') + word;
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached;
    if (word.length === 0) throw new Error(`tokenizer ${this.source}: word ${index} is empty`);
    const added = this.addedIds.get(word);
    const ids = added !== undefined ? [added] : this.encodePiece(word, index);
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(key, ids);
    return ids;
  }

  /** One word as it appears inside the sentence, without special tokens. */
  private encodePiece(word: string, index: number): number[] {
    const text = index > 0 && this.pipeline.context === 'space' ? ` ${word}` : word;
    const enc = this.bareEncoding(text);
    const where = `tokenizer ${this.source}: word ${index} ${quote(word)}`;
    if (enc.ids.length === 0) throw new Error(`${where} encodes to no token`);
    enc.ids.forEach((id, k) => {
      if (!Number.isInteger(id))
        throw new Error(
          `${where}: piece ${quote(enc.tokens[k])} is not in the vocab and the model has no unk_token`,
        );
    });
    return enc.ids;
  }

  // The package's type declarations do not resolve under NodeNext (extensionless imports): typed here.
  private bareEncoding(text: string): { ids: number[]; tokens: string[] } {
    return this.hf.encode(text, { add_special_tokens: false });
  }

  /** The ids the post-processor adds around a sequence, found by encoding one word with and without them. */
  private postProcessorTokens(): { before: number[]; after: number[] } {
    const bare = this.bareEncoding('a').ids;
    const full: number[] = this.hf.encode('a', { add_special_tokens: true }).ids;
    for (let start = 0; start + bare.length <= full.length; start++) {
      if (bare.every((id, k) => full[start + k] === id))
        return { before: full.slice(0, start), after: full.slice(start + bare.length) };
    }
    throw new TokenizerJsonError(
      `tokenizer.json ${this.source}: the post_processor changes the words' ids (${quote(bare)} → ${quote(full)}); only tokens added around them are supported`,
    );
  }

  private filePad(padding: unknown): number | undefined {
    if (!isObject(padding)) return undefined;
    if (typeof padding.pad_token === 'string') {
      const id = this.hf.token_to_id(padding.pad_token);
      if (id !== undefined) return id;
    }
    return typeof padding.pad_id === 'number' && padding.pad_id < this.vocabSize ? padding.pad_id : undefined;
  }
}

function addedToken(t: unknown, i: number, source: string): { id: number; content: string } {
  if (!isObject(t) || typeof t.content !== 'string' || !Number.isInteger(t.id) || (t.id as number) < 0)
    throw new TokenizerJsonError(
      `tokenizer.json ${source}: added_tokens[${i}] must have a string "content" and an integer "id" ≥ 0, found ${quote(t)}`,
    );
  return { id: t.id as number, content: t.content };
}

/** 1 + the largest id of the vocab and the added tokens (ids may have gaps; embeddings may be larger still). */
function vocabSizeOf(vocab: Json, added: readonly { id: number }[], source: string): number {
  let max = -1;
  for (const [token, id] of Object.entries(vocab)) {
    if (!Number.isInteger(id) || (id as number) < 0)
      throw new TokenizerJsonError(
        `tokenizer.json ${source}: model.vocab[${quote(token)}] must be an integer id ≥ 0, found ${quote(id)}`,
      );
    max = Math.max(max, id as number);
  }
  for (const t of added) max = Math.max(max, t.id);
  if (max < 0) throw new TokenizerJsonError(`tokenizer.json ${source}: model.vocab is empty`);
  return max + 1;
}
