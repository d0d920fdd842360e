import { describe, expect, it } from 'vitest';
import { loadBrown } from '../src/data/brown.ts';
import { brownBaseTag, universalTag } from '../src/data/tagsets.ts';
import { UNIVERSAL_TAGS, universalMap } from '../src/data/universal-map.ts';

const docs = loadBrown();
const rawTags = new Set(docs.flatMap((d) => d.sentences.flatMap((s) => s.tags)));

describe('loadBrown', () => {
  it('reads the 500 documents of 15 genres and 1,161,192 tokens', () => {
    expect(docs).toHaveLength(500);
    expect(docs[0].id).toBe('ca01');
    expect(docs[499].id).toBe('cr09');
    expect(new Set(docs.map((d) => d.genre)).size).toBe(15);
    expect(docs.find((d) => d.id === 'cg01')?.genre).toBe('belles_lettres');
    let tokens = 0;
    let ragged = 0;
    for (const doc of docs) {
      for (const s of doc.sentences) {
        if (s.tags.length !== s.words.length || s.words.length === 0) ragged++;
        tokens += s.words.length;
      }
    }
    expect(tokens).toBe(1_161_192);
    expect(ragged).toBe(0);
  });

  it('splits tokens at the last slash', () => {
    const first = docs[0].sentences[0];
    expect(first.words.slice(0, 4)).toEqual(['The', 'Fulton', 'County', 'Grand']);
    expect(first.tags.slice(0, 4)).toEqual(['at', 'np-tl', 'nn-tl', 'jj-tl']);
    const fraction = docs.some((d) => d.sentences.some((s) => s.words.includes('13-1/2')));
    expect(fraction).toBe(true);
  });

  it('is parsed once per process', () => {
    expect(loadBrown()).toBe(docs);
  });
});

describe('tag sets over the corpus', () => {
  it('has 472 raw tags, all in the universal table, mapping onto the 12 universal tags', () => {
    expect(rawTags.size).toBe(472);
    expect(universalMap().size).toBe(472);
    expect(new Set([...rawTags].map(universalTag))).toEqual(new Set(UNIVERSAL_TAGS));
  });

  it('has 190 Brown base tags, all in lower case', () => {
    const base = new Set([...rawTags].map(brownBaseTag));
    expect(base.size).toBe(190);
    expect([...base].filter((t) => /-(tl|hl|nc)\b|^fw-|[A-Z]/.test(t))).toEqual([]);
  });
});
