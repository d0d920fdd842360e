/**
 * @file Cuts special-token strings (e.g. `[SEP]`) out of raw text before pre-tokenization, as HF tokenizers do
 * for added tokens: leftmost match first, the longest one where several start at the same place.
 */

/** A piece of text: either ordinary text or the id of a special token found in it. */
export type Section = { text: string; special?: undefined } | { text: string; special: number };

export class SpecialSplitter {
  private readonly byContent: ReadonlyMap<string, number>;
  private readonly firstChars: ReadonlySet<string>;
  /** Longest content first, so the first match at a position is the longest. */
  private readonly contents: readonly string[];

  constructor(specials: ReadonlyMap<string, number>) {
    this.byContent = specials;
    this.contents = [...specials.keys()].filter((c) => c.length > 0).sort((a, b) => b.length - a.length);
    this.firstChars = new Set(this.contents.map((c) => c[0]!));
  }

  /** The id when `text` is exactly a special token's content. */
  exact(text: string): number | undefined {
    return this.byContent.get(text);
  }

  split(text: string): Section[] {
    const out: Section[] = [];
    let start = 0;
    let i = 0;
    while (i < text.length) {
      const match = this.firstChars.has(text[i]!)
        ? this.contents.find((c) => text.startsWith(c, i))
        : undefined;
      if (match === undefined) {
        i++;
        continue;
      }
      if (i > start) out.push({ text: text.slice(start, i) });
      out.push({ text: match, special: this.byContent.get(match)! });
      i += match.length;
      start = i;
    }
    if (start < text.length) out.push({ text: text.slice(start) });
    return out;
  }
}
