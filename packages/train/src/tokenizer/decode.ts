/**
 * @file Token strings back to text, as the saved decoder does (HF `ByteFallback` then `Metaspace`): runs of
 * byte tokens become UTF-8 text, `▁` becomes a space, and the first piece loses one leading space.
 */
import { METASPACE, parseByteToken } from './pretokenize.ts';

// ignoreBOM keeps a leading U+FEFF that came from the text, so decoding stays the inverse of encoding.
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

export function decodeTokens(tokens: readonly string[]): string {
  const pieces: string[] = [];
  let bytes: number[] = [];
  for (const token of tokens) {
    const byte = parseByteToken(token);
    if (byte >= 0) {
      bytes.push(byte);
      continue;
    }
    if (bytes.length > 0) {
      pieces.push(utf8.decode(Uint8Array.from(bytes)));
      bytes = [];
    }
    pieces.push(token);
  }
  if (bytes.length > 0) pieces.push(utf8.decode(Uint8Array.from(bytes)));
  let text = '';
  for (let i = 0; i < pieces.length; i++) {
    const piece = pieces[i]!.replaceAll(METASPACE, ' ');
    text += i === 0 && piece.startsWith(' ') ? piece.slice(1) : piece;
  }
  return text;
}
