import { describe, expect, it } from 'vitest';
import { type BrownDocument, loadBrown } from '../src/data/brown.ts';
import { brownSplit, splitOfDocuments } from '../src/data/split.ts';
import { brownBaseTag } from '../src/data/tagsets.ts';

const docs = loadBrown();
const tokens = (list: BrownDocument[]) =>
  list.reduce((n, d) => n + d.sentences.reduce((m, s) => m + s.words.length, 0), 0);

describe('brownSplit', () => {
  const train = brownSplit('train', docs);
  const dev = brownSplit('dev', docs);
  const test = brownSplit('test', docs);

  it('gives 414 / 45 / 41 documents and 94,774 test tokens', () => {
    expect([train.length, dev.length, test.length]).toEqual([414, 45, 41]);
    expect(tokens(test)).toBe(94_774);
  });

  it('is disjoint and complete', () => {
    const ids = [...train, ...dev, ...test].map((d) => d.id);
    expect(new Set(ids).size).toBe(500);
    expect(new Set(ids)).toEqual(new Set(docs.map((d) => d.id)));
  });

  it('follows the stratification rule within each genre', () => {
    // news has 44 files (ca01…ca44): indices 8, 18, 28, 38 → dev; 9, 19, 29, 39 → test.
    expect(dev.filter((d) => d.genre === 'news').map((d) => d.id)).toEqual(['ca09', 'ca19', 'ca29', 'ca39']);
    expect(test.filter((d) => d.genre === 'news').map((d) => d.id)).toEqual(['ca10', 'ca20', 'ca30', 'ca40']);
    // humor has 9 files: the ninth (index 8) is dev, none is test.
    expect(dev.filter((d) => d.genre === 'humor').map((d) => d.id)).toEqual(['cr09']);
    expect(test.filter((d) => d.genre === 'humor')).toEqual([]);
  });

  it('depends only on ids and genres, not on document order', () => {
    const shuffled = [...docs].reverse();
    expect(splitOfDocuments(shuffled)).toEqual(splitOfDocuments(docs));
    expect(brownSplit('test', docs).map((d) => d.id)).toEqual(test.map((d) => d.id));
  });

  it('has the 187 Brown base tags docs/data.md counts in training', () => {
    const base = new Set(train.flatMap((d) => d.sentences.flatMap((s) => s.tags.map(brownBaseTag))));
    expect(base.size).toBe(187);
  });
});
