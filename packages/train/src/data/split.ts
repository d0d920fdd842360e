/**
 * @file The genre-stratified train/dev/test split of the Brown documents described in docs/data.md.
 */
import { type BrownDocument, loadBrown } from './brown.ts';

export type Split = 'train' | 'dev' | 'test';

export const SPLITS: readonly Split[] = ['train', 'dev', 'test'];

/**
 * Within each genre, documents in name order with 0-based index i: i % 10 == 9 → test, i % 10 == 8 → dev, the
 * rest → train. Gives 414 / 45 / 41 documents; depends on nothing but the document ids and genres.
 */
export function splitOfDocuments(docs: readonly BrownDocument[]): Map<string, Split> {
  const byGenre = new Map<string, BrownDocument[]>();
  for (const doc of docs) {
    const list = byGenre.get(doc.genre) ?? [];
    list.push(doc);
    byGenre.set(doc.genre, list);
  }
  const splits = new Map<string, Split>();
  for (const list of byGenre.values()) {
    const ordered = [...list].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    ordered.forEach((doc, i) => splits.set(doc.id, i % 10 === 9 ? 'test' : i % 10 === 8 ? 'dev' : 'train'));
  }
  return splits;
}

/** The documents of one split, in name order. */
export function brownSplit(split: Split, docs: readonly BrownDocument[] = loadBrown()): BrownDocument[] {
  const splits = splitOfDocuments(docs);
  return docs.filter((doc) => splits.get(doc.id) === split);
}
