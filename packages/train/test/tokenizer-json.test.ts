/**
 * tokenizer.json I/O: the written layout, save → load giving identical encodings, atomic save, and clear
 * refusals of malformed or unsupported files.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BpeTokenizer, TokenizerJsonError, trainBpe } from '../src/tokenizer/index.ts';
import { corpusOfWords, lexicon, sentences } from './tokenizer-corpus.ts';

const tok = trainBpe(corpusOfWords(20_000), { vocabSize: 900 });
const dir = mkdtempSync(join(tmpdir(), 'reprise-tokenizer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// biome-ignore lint/suspicious/noExplicitAny: tests mutate the parsed document freely.
type Doc = any;
const docOf = (): Doc => JSON.parse(tok.toJSON());
const refuse = (edit: (doc: Doc) => void, message: RegExp): void => {
  const doc = docOf();
  edit(doc);
  expect(() => BpeTokenizer.fromJSON(JSON.stringify(doc), 'bad/tokenizer.json')).toThrow(message);
};

describe('tokenizer.json', () => {
  it('has the HF layout', () => {
    const doc = docOf();
    expect(doc.version).toBe('1.0');
    expect(doc.added_tokens.map((t: Doc) => [t.id, t.content, t.special])).toEqual([
      [0, '[PAD]', true],
      [1, '[UNK]', true],
      [2, '[BOS]', true],
      [3, '[EOS]', true],
      [4, '[SEP]', true],
      [5, '[MASK]', true],
    ]);
    expect(doc.normalizer).toBeNull();
    expect(doc.pre_tokenizer.pretokenizers.map((p: Doc) => p.type)).toEqual(['WhitespaceSplit', 'Metaspace']);
    expect(doc.model.type).toBe('BPE');
    expect(doc.model.byte_fallback).toBe(true);
    expect(Object.keys(doc.model.vocab)).toHaveLength(tok.vocabSize);
    expect(doc.model.merges[0]).toEqual(tok.merges[0]);
    expect(doc.decoder.decoders.map((d: Doc) => d.type)).toEqual(['ByteFallback', 'Metaspace']);
  });

  it('save → load gives identical encodings', () => {
    const path = join(dir, 'sub', 'tokenizer.json');
    tok.save(path);
    expect(readdirSync(join(dir, 'sub'))).toEqual(['tokenizer.json']); // no temporary file left behind
    const loaded = BpeTokenizer.load(path);
    expect(loaded.toJSON()).toBe(tok.toJSON());
    expect(loaded.special).toEqual(tok.special);
    for (const s of sentences(100, 5, lexicon(50_000, 2))) {
      expect(loaded.encodeWords(s)).toEqual(tok.encodeWords(s));
      expect(loaded.encode(s.join(' '))).toEqual(tok.encode(s.join(' ')));
    }
    const lower = trainBpe(corpusOfWords(5000), { vocabSize: 500, lowercase: true });
    lower.save(path);
    expect(BpeTokenizer.load(path).encode('The CAT')).toEqual(lower.encode('the cat'));
  });

  it('save replaces an existing file whole', () => {
    const path = join(dir, 'replace.json');
    writeFileSync(path, 'old');
    tok.save(path);
    expect(readFileSync(path, 'utf8')).toBe(tok.toJSON());
    expect(existsSync(`${path}.tmp-${process.pid}`)).toBe(false);
  });

  it('accepts the legacy "a b" merge spelling', () => {
    const doc = docOf();
    doc.model.merges = doc.model.merges.map(([a, b]: string[]) => `${a} ${b}`);
    expect(BpeTokenizer.fromJSON(JSON.stringify(doc)).encode('the naïve cat')).toEqual(
      tok.encode('the naïve cat'),
    );
  });

  it('refuses malformed or unsupported files, naming the file and the problem', () => {
    expect(() => BpeTokenizer.fromJSON('{"version": "1.0",', 'x.json')).toThrow(
      /x\.json:1:19: not valid JSON/,
    );
    expect(() => BpeTokenizer.fromJSON('[]', 'x.json')).toThrow(TokenizerJsonError);
    // undefined fields vanish in JSON.stringify, as if deleted.
    refuse((d) => (d.model = undefined), /bad\/tokenizer\.json: model: missing; expected object/);
    refuse((d) => (d.model.type = 'WordPiece'), /model\.type: must be "BPE", found "WordPiece"/);
    refuse(
      (d) => d.model.merges.push(['▁the', 'zzz']),
      /model\.merges\[\d+\] .*"zzz", which is not in model\.vocab/,
    );
    refuse((d) => d.model.merges.push(['.', ',']), /references ".,", which is not in model\.vocab/);
    refuse((d) => d.model.merges.push(d.model.merges[0]), /repeats an earlier merge/);
    refuse((d) => (d.model.merges[3] = 'a b c'), /merges\[3\] must be a pair/);
    refuse((d) => (d.model.merges = {}), /model\.merges: must be an array/);
    refuse((d) => (d.model.vocab = []), /model\.vocab: must be an object/);
    refuse((d) => (d.model.vocab['▁xyzzy'] = 5), /id 5 is both/);
    refuse((d) => (d.model.vocab['▁xyzzy'] = 1e9), /not an integer in/);
    refuse((d) => (d.model.vocab['<0x41>'] = undefined), /ids must run .* id 71 is missing/);
    refuse((d) => (d.model.byte_fallback = false), /byte_fallback: must be true/);
    refuse((d) => (d.model.continuing_subword_prefix = '##'), /continuing_subword_prefix: is not supported/);
    refuse((d) => (d.added_tokens = d.added_tokens.slice(0, 5)), /lacks the special token \[MASK\]/);
    refuse((d) => (d.added_tokens[2].rstrip = true), /"rstrip": true is not supported/);
    refuse((d) => (d.pre_tokenizer = { type: 'ByteLevel' }), /pre_tokenizer must be Sequence/);
    refuse((d) => (d.normalizer = { type: 'NFKC' }), /normalizer must be null or/);
    refuse((d) => (d.post_processor = { type: 'TemplateProcessing' }), /post_processor: must be null/);
    refuse((d) => (d.version = '2.0'), /version: must be "1.0"/);
  });

  it('load names the path it could not read', () => {
    expect(() => BpeTokenizer.load(join(dir, 'missing.json'))).toThrow(/missing\.json: cannot read/);
  });
});
