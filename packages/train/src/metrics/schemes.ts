/**
 * @file Span label schemes (IOB2, IOB1, BIOES): reading a label's prefix and type, detecting which scheme a
 * labeled corpus uses, and refusing labels or transitions that fit no scheme, with file and line.
 */
import type { LabeledSentence } from '../data/labeled.ts';

export const SCHEMES = ['iob2', 'iob1', 'bioes'] as const;
export type Scheme = (typeof SCHEMES)[number];
export type SchemeChoice = Scheme | 'auto';

export type Prefix = 'B' | 'I' | 'E' | 'S';
/** A span label split into prefix and type; `O` has neither. */
export type Tag = { prefix: Prefix; type: string } | { prefix: 'O'; type: null };

const SPAN_LABEL = /^([BIES])-(.+)$/;
const OUTSIDE: Tag = { prefix: 'O', type: null };

/** The prefixes each scheme allows besides `O`. */
export const SCHEME_PREFIXES: Record<Scheme, readonly Prefix[]> = {
  iob2: ['B', 'I'],
  iob1: ['B', 'I'],
  bioes: ['B', 'I', 'E', 'S'],
};

/** What a valid span looks like in each scheme, for error messages. */
export const SCHEME_RULES: Record<Scheme, string> = {
  iob2: 'an IOB2 span is B-X followed by I-X…',
  iob1: 'an IOB1 span is I-X… (B-X only where a span of type X ends right before)',
  bioes: 'a BIOES span is S-X, or B-X I-X… E-X',
};

/** `O` or `B-`, `I-`, `E-`, `S-` + type; null for anything else (a POS tag, `X-PER`, `B-`). */
export function parseTag(label: string): Tag | null {
  if (label === 'O') return OUTSIDE;
  const match = SPAN_LABEL.exec(label);
  return match ? { prefix: match[1] as Prefix, type: match[2]! } : null;
}

/** Expected-label text for a set of prefixes: "O, B-TYPE or I-TYPE". */
export function expectedLabels(prefixes: readonly Prefix[]): string {
  const forms = ['O', ...prefixes.map((p) => `${p}-TYPE`)];
  return `${forms.slice(0, -1).join(', ')} or ${forms.at(-1)}`;
}

/**
 * Whether each token lies in a span that the scheme's strict reading accepts (`O` tokens: true). A `false`
 * marks an invalid transition: IOB2 `I-X` not after `B-X`/`I-X`; BIOES `B-X` not closed by `E-X`, a stray
 * `I-X`/`E-X`. Every B/I/O sequence is valid IOB1 (an `I-X` after anything but X opens a span, as conlleval
 * reads IOB1, and a `B-X` after `O` is accepted too). Labels must already parse; prefixes outside the scheme
 * are the caller's to refuse.
 */
export function strictCoverage(tags: readonly Tag[], scheme: Scheme): boolean[] {
  const covered = tags.map((t) => t.prefix === 'O');
  const sameType = (i: number, type: string | null) => i >= 0 && i < tags.length && tags[i]!.type === type;
  for (let i = 0; i < tags.length; i++) {
    const { prefix, type } = tags[i]!;
    if (prefix === 'O') continue;
    if (scheme === 'iob1') covered[i] = true;
    else if (scheme === 'iob2')
      covered[i] = prefix === 'B' || (covered[i - 1] === true && sameType(i - 1, type));
    else if (prefix === 'S') covered[i] = true;
    else if (prefix === 'B') {
      let j = i + 1;
      while (j < tags.length && tags[j]!.prefix === 'I' && sameType(j, type)) j++;
      if (j < tags.length && tags[j]!.prefix === 'E' && sameType(j, type)) {
        for (let k = i; k <= j; k++) covered[k] = true;
        i = j;
      }
    }
  }
  return covered;
}

/** A labeled file (or split) whose labels are checked, named `source` in messages. */
export type LabelSource = { source: string; sentences: readonly LabeledSentence[] };

/** The scheme of a corpus (null: its labels are not spans), how it was chosen, and why. */
export type SchemeDecision = { scheme: Scheme | null; detected: boolean; reason: string };

type Found = { label: string; where: string; count: number };

/** The first occurrence of something in a corpus, and how many there are. */
function tally(found: Found | undefined, label: string, where: () => string): Found {
  if (found) {
    found.count++;
    return found;
  }
  return { label, where: where(), count: 1 };
}

function locate(source: string, sentence: LabeledSentence, s: number, i: number): string {
  const line = sentence.lines?.[i] ?? (i === 0 ? sentence.line : undefined);
  return line === undefined ? `${source}: sentence ${s}, token ${i}` : `${source}:${line}`;
}

const times = (n: number) => (n === 1 ? 'once' : `${n} times`);

/** Evidence for detection, gathered in one pass over all labels. */
function survey(splits: readonly LabelSource[]) {
  let notSpan: Found | undefined;
  let span: Found | undefined;
  let endOrSingle: Found | undefined;
  let iAfterOther: Found | undefined;
  for (const { source, sentences } of splits) {
    sentences.forEach((sentence, s) => {
      let prev: Tag = OUTSIDE;
      sentence.labels.forEach((label, i) => {
        const where = () => locate(source, sentence, s, i);
        const tag = parseTag(label);
        if (!tag) {
          notSpan = tally(notSpan, label, where);
          prev = OUTSIDE;
          return;
        }
        if (tag.prefix !== 'O') span = tally(span, label, where);
        if (tag.prefix === 'E' || tag.prefix === 'S') endOrSingle = tally(endOrSingle, label, where);
        if (tag.prefix === 'I' && prev.type !== tag.type) {
          const after =
            prev.prefix === 'O' ? (i === 0 ? 'the sentence start' : "'O'") : `'${prev.prefix}-${prev.type}'`;
          iAfterOther = tally(iAfterOther, `'${label}' after ${after}`, where);
        }
        prev = tag;
      });
    });
  }
  return { notSpan, span, endOrSingle, iAfterOther } as {
    notSpan?: Found;
    span?: Found;
    endOrSingle?: Found;
    iAfterOther?: Found;
  };
}

/** Auto-detection without checks: BIOES if any S-/E-, IOB1 if an I-X opens a span, else IOB2. */
function detect(evidence: ReturnType<typeof survey>): SchemeDecision {
  const { notSpan, span, endOrSingle, iAfterOther } = evidence;
  if (!span) {
    const example = notSpan ? ` (e.g. '${notSpan.label}' at ${notSpan.where})` : '';
    return { scheme: null, detected: true, reason: `the labels are not spans${example}` };
  }
  if (endOrSingle)
    return {
      scheme: 'bioes',
      detected: true,
      reason: `S-/E- labels occur ('${endOrSingle.label}' at ${endOrSingle.where}, ${times(endOrSingle.count)} in all)`,
    };
  if (iAfterOther)
    return {
      scheme: 'iob1',
      detected: true,
      reason: `an I- label opens a span where IOB2 would need B- (${iAfterOther.label} at ${iAfterOther.where}, ${times(iAfterOther.count)} in all)`,
    };
  return { scheme: 'iob2', detected: true, reason: 'every span opens with B-' };
}

/**
 * The scheme for a corpus: `choice` if forced, else detected from the labels of `splits` (BIOES if any S-/E-
 * label, IOB1 if some I-X follows `O` or another type, else IOB2; null when no label is a span label). Throws,
 * naming file and line, when the labels fit no scheme: labels that are neither `O` nor PREFIX-TYPE mixed with
 * span labels, prefixes the forced scheme lacks, or transitions it forbids (strict span F1 would silently drop
 * those gold spans, and best-epoch selection would chase the resulting low score).
 */
export function chooseScheme(choice: SchemeChoice, splits: readonly LabelSource[]): SchemeDecision {
  const evidence = survey(splits);
  const detected = detect(evidence);
  const { notSpan, span } = evidence;
  if (choice === 'auto' && detected.scheme === null) return detected;
  if (notSpan) {
    const context =
      choice === 'auto'
        ? `while other labels are spans (e.g. '${span!.label}' at ${span!.where})`
        : `(--scheme ${choice})`;
    throw new Error(
      `${notSpan.where}: label '${notSpan.label}' fits no span scheme: expected ${expectedLabels(['B', 'I', 'E', 'S'])} ${context}`,
    );
  }
  const scheme = choice === 'auto' ? detected.scheme! : choice;
  const suggestion =
    choice === 'auto'
      ? ''
      : detected.scheme && detected.scheme !== choice
        ? `; the labels look like ${detected.scheme.toUpperCase()} (${detected.reason}): use --scheme auto or ${detected.scheme}`
        : '';
  checkScheme(scheme, splits, suggestion);
  return choice === 'auto' ? detected : { scheme, detected: false, reason: `forced by --scheme ${choice}` };
}

/** Throws at the first label whose prefix `scheme` lacks or that lies in no valid span of `scheme`. */
function checkScheme(scheme: Scheme, splits: readonly LabelSource[], suggestion: string): void {
  const allowed = SCHEME_PREFIXES[scheme];
  let bad: Found | undefined;
  for (const { source, sentences } of splits) {
    sentences.forEach((sentence, s) => {
      const tags = sentence.labels.map((l) => parseTag(l)!);
      tags.forEach((tag, i) => {
        if (tag.prefix !== 'O' && !allowed.includes(tag.prefix)) {
          throw new Error(
            `${locate(source, sentence, s, i)}: label '${sentence.labels[i]}' is not ${scheme.toUpperCase()}: expected ${expectedLabels(allowed)}${suggestion}`,
          );
        }
      });
      strictCoverage(tags, scheme).forEach((ok, i) => {
        if (ok) return;
        const context = sentence.labels.slice(Math.max(0, i - 1), i + 2).join(' ');
        bad = tally(bad, `'${sentence.labels[i]}' (in '${context}')`, () => locate(source, sentence, s, i));
      });
    });
  }
  if (bad) {
    throw new Error(
      `${bad.where}: ${bad.label} is in no valid ${scheme.toUpperCase()} span (${SCHEME_RULES[scheme]}); ${bad.count} such label${bad.count === 1 ? '' : 's'} in all${suggestion}`,
    );
  }
}
