/**
 * @file Maps raw Brown corpus tags to the two tag sets the taggers learn: Brown base tags (suffixes and the
 * foreign-word prefix removed) and the 12 universal tags.
 */
import { universalMap } from './universal-map.ts';

export type TagSet = 'brown' | 'universal';

const SUFFIXES = /(-(tl|hl|nc))+$/;

// The corpus has 472 raw tags and 1.16M tokens: remember each tag's base form instead of recomputing it.
const baseTags = new Map<string, string>();

/**
 * Lower-cases, removes `-tl` (title), `-hl` (headline) and `-nc` (cited) suffixes and the `fw-` (foreign
 * word) prefix, keeps compounds and negation: `NP-TL` → `np`, `fw-in+nn-tl` → `in+nn`, `ppss+bem-tl` →
 * `ppss+bem`, `nn-tl-hl` → `nn`, `do*` → `do*`. Suffixes are removed from every part of a compound because the
 * corpus writes them there (`pps+bez-hl`). The two truncated suffixes in the corpus (`fw-in+at-t`,
 * `ppss+ber-n`, 4 tokens) are kept as they are, as the universal table keeps them: 190 base tags over the corpus,
 * 187 over the training split (the number docs/data.md quotes).
 */
export function brownBaseTag(raw: string): string {
  let base = baseTags.get(raw);
  if (base === undefined) {
    base = raw
      .toLowerCase()
      .replace(/^fw-/, '')
      .split('+')
      .map((part) => part.replace(SUFFIXES, ''))
      .join('+');
    baseTags.set(raw, base);
  }
  return base;
}

/** The universal tag of a raw Brown tag, compared case-insensitively. */
export function universalTag(raw: string): string {
  const tag = universalMap().get(raw.toLowerCase());
  if (tag === undefined) throw new Error(`no universal tag for Brown tag '${raw}' in en-brown.map`);
  return tag;
}

/** The label a raw Brown tag gets in `tagSet`. */
export function tagIn(tagSet: TagSet, raw: string): string {
  return tagSet === 'brown' ? brownBaseTag(raw) : universalTag(raw);
}
