/**
 * @file The proper-name span task on Brown: maximal runs of proper-noun tokens as IOB2 `NAME` spans.
 */
import { brownBaseTag } from './tagsets.ts';

export const NAME_LABELS = ['O', 'B-NAME', 'I-NAME'] as const;

/**
 * A proper-noun token has a base tag with a part `np`, `np$`, `nps` or `nps$`. Compounds count whichever part
 * is the noun: `Kitty's/np+bez` (Kitty is) and `d'Eiffel/fw-in+np-tl` are names; `-tl` words around a name
 * (`County/nn-tl`) are not.
 */
export function isProperNounTag(raw: string): boolean {
  return brownBaseTag(raw)
    .split('+')
    .some((part) => part.startsWith('np'));
}

/** IOB2 labels: `B-NAME` opens each maximal run of proper-noun tokens, `I-NAME` continues it, the rest `O`. */
export function nameLabels(rawTags: readonly string[]): string[] {
  const labels: string[] = [];
  for (let i = 0; i < rawTags.length; i++) {
    if (!isProperNounTag(rawTags[i])) labels.push('O');
    else labels.push(i > 0 && labels[i - 1] !== 'O' ? 'I-NAME' : 'B-NAME');
  }
  return labels;
}
