/**
 * @file Seeded synthetic English-like corpus for the tokenizer tests: Zipf-distributed words built from
 * syllables, sentences with capitals, punctuation and numbers (no dependency on the corpus loaders).
 */

/** Small seeded PRNG (mulberry32), uniform in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FUNCTION_WORDS =
  'the of and to a in is that for it was on with he as his by at be this had not are but from or have an they which one you were her all she there would their we him been has when who will more no if out so said what up its about into than them can only other new some could time these two may then do first any my now such like our over man me even most made after also did many before must through back years where much your way well down should because each just those people mr how too little state good very make world still own see men work long get here between both life being under never day same another know while last might us great old year off come since against go came right used take three'.split(
    ' ',
  );
const ONSETS = [
  '',
  'b',
  'c',
  'd',
  'f',
  'g',
  'h',
  'j',
  'k',
  'l',
  'm',
  'n',
  'p',
  'r',
  's',
  't',
  'v',
  'w',
  'br',
];
const ONSETS2 = [
  'ch',
  'cl',
  'cr',
  'dr',
  'fl',
  'fr',
  'gr',
  'pl',
  'pr',
  'sh',
  'sl',
  'sp',
  'st',
  'str',
  'th',
  'tr',
];
const VOWELS = ['a', 'e', 'i', 'o', 'u', 'a', 'e', 'i', 'o', 'ea', 'ou', 'ai', 'ee', 'oo', 'y'];
const CODAS = ['', '', '', 'n', 'r', 's', 't', 'l', 'm', 'nd', 'nt', 'st', 'ck', 'ng', 'rt', 'ss'];
const SUFFIXES = ['', '', '', '', 's', 'ed', 'ing', 'ly', 'er', 'tion', 'ness', 'ment', 'able', "'s"];

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

/** `size` distinct lowercase words, roughly shorter first (so frequent words are short, as in English). */
export function lexicon(size: number, seed = 1): string[] {
  const r = rng(seed);
  const seen = new Set<string>(FUNCTION_WORDS);
  const words = [...FUNCTION_WORDS];
  while (words.length < size) {
    const syllables = 1 + Math.floor(Math.min(3, (words.length / size) * 3 + r() * 1.5));
    let w = '';
    for (let s = 0; s < syllables; s++)
      w += pick(r, r() < 0.8 ? ONSETS : ONSETS2) + pick(r, VOWELS) + pick(r, CODAS);
    w += pick(r, SUFFIXES);
    if (!seen.has(w)) {
      seen.add(w);
      words.push(w);
    }
  }
  return words;
}

/** Sentences of words drawn Zipf(≈1.05) from the lexicon, with capitals, commas, numbers and end marks. */
export function sentences(count: number, seed: number, lex: readonly string[]): string[][] {
  const r = rng(seed);
  const cum = new Float64Array(lex.length);
  let total = 0;
  for (let i = 0; i < lex.length; i++) cum[i] = total += 1 / (i + 1) ** 1.05;
  const draw = (): string => {
    const x = r() * total;
    let lo = 0;
    let hi = lex.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cum[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lex[lo]!;
  };
  const out: string[][] = [];
  for (let s = 0; s < count; s++) {
    const n = 4 + Math.floor(r() * 22);
    const words: string[] = [];
    for (let i = 0; i < n; i++) {
      const u = r();
      let w: string;
      if (u < 0.02) w = String(Math.floor(r() * 2000));
      else if (u < 0.06 && i > 0) w = ',';
      else {
        w = draw();
        if (i === 0 || u > 0.97) w = w[0]!.toUpperCase() + w.slice(1);
      }
      words.push(w);
    }
    words.push(r() < 0.9 ? '.' : '?');
    out.push(words);
  }
  return out;
}

/** Roughly `n` words of corpus as sentences. */
export function corpusOfWords(n: number, seed = 7, lexSize = 80_000): string[][] {
  const lex = lexicon(lexSize);
  const out: string[][] = [];
  let words = 0;
  while (words < n) {
    const batch = sentences(1000, seed + out.length, lex);
    for (const s of batch) {
      out.push(s);
      words += s.length;
      if (words >= n) break;
    }
  }
  return out;
}
