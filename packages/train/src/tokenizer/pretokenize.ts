/**
 * @file Pre-tokenization shared by training and encoding: whitespace split, optional lowercasing and the
 * Metaspace word marker, mirroring the tokenizer.json `WhitespaceSplit` + `Metaspace` pre-tokenizers.
 */

/** Word-start marker (U+2581), as in SentencePiece and the HF Metaspace pre-tokenizer. */
export const METASPACE = '\u2581';

/** Splits on whitespace exactly as the HF `WhitespaceSplit` pre-tokenizer does in tokenizers.js (`\S+`). */
export function splitWhitespace(text: string): string[] {
  return text.match(/\S+/g) ?? [];
}

/**
 * One word as the BPE model sees it: spaces become `▁` and a `▁` is prepended unless the word already starts
 * with one (HF Metaspace, `prepend_scheme: "always"`).
 */
export function metaspaceWord(word: string): string {
  const replaced = word.includes(' ') ? word.replaceAll(' ', METASPACE) : word;
  return replaced.startsWith(METASPACE) ? replaced : METASPACE + replaced;
}

/** Byte-fallback token for one byte, e.g. `<0x0A>`, the spelling HF BPE with `byte_fallback` looks up. */
export function byteToken(byte: number): string {
  return `<0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`;
}

/** The byte a byte-fallback token stands for, or -1 when the token is not one. */
export function parseByteToken(token: string): number {
  return /^<0x[0-9A-Fa-f]{2}>$/.test(token) ? Number.parseInt(token.slice(3, 5), 16) : -1;
}
