/**
 * @file One probe of a pretrained backbone for induction heads, shared by `reprise inspect` and the experiment
 * runner (which logs it for every decoder its runs use): the repeated-random-sequence score (decoders only) and
 * the attention from the last SR copy to each token's twin + 1 and twin on Brown dev sentences.
 */
import { type Transformer, longestRepeatable } from '@reprise/model';
import { type BrownTask, brownTask } from '../data/index.ts';
import type { WordTokenizer } from '../tokenizer/index.ts';
import { type TwinAttention, attentionToTwin } from './attention-to-twin.ts';
import { type InductionScore, inductionScore } from './induction.ts';

export interface ProbeOptions {
  /** Random tokens per half, sequences and their seed (the induction score). */
  length: number;
  count: number;
  seed: number;
  /** Brown dev sentences repeated under SR for the attention tables, and how. */
  task: BrownTask;
  sentences: number;
  r: number;
  positions: 'continue' | 'reset';
  /** Subwords kept per sentence before repetition. */
  maxTokens: number;
}

export const PROBE_DEFAULTS: ProbeOptions = {
  length: 50,
  count: 32,
  seed: 0,
  task: 'pos-universal',
  sentences: 64,
  r: 1,
  positions: 'continue',
  maxTokens: 256,
};

/** The head with the most attention on the twin + 1 (0-based), and that share against a head attending evenly. */
export interface StrongestHead {
  layer: number;
  head: number;
  twinNext: number;
  timesUniform: number;
}

export interface BackboneProbe {
  induction: InductionScore | { skipped: string };
  attention: TwinAttention;
  strongest: StrongestHead;
  data: { task: string; split: 'dev'; sentences: number; maxTokens: number; cut: number };
}

export async function probeBackbone(
  model: Transformer,
  tokenizer: WordTokenizer,
  o: ProbeOptions = PROBE_DEFAULTS,
): Promise<BackboneProbe> {
  const cfg = model.config;
  const induction: BackboneProbe['induction'] =
    cfg.kind === 'decoder'
      ? await inductionScore(model, {
          length: o.length,
          count: o.count,
          seed: o.seed,
          exclude: Object.values(tokenizer.special).filter((id) => id !== undefined),
        })
      : {
          skipped: `the repeated-sequence score is defined for decoders (next-token prediction); this backbone is an ${cfg.kind} trained with masked LM`,
        };
  const cap = Math.min(
    o.maxTokens,
    longestRepeatable(model.positionLimit, { r: o.r, positions: o.positions }),
  );
  if (cap < 1)
    throw new Error(`r = ${o.r}: not one token fits ${model.positionLimit} positions once repeated`);
  const sentences = brownTask(o.task, 'dev')
    .slice(0, o.sentences)
    .map((s) => tokenizer.encodeWords(s.words).ids);
  const cut = sentences.filter((ids) => ids.length > cap).length;
  const attention = await attentionToTwin(
    model,
    sentences.map((ids) => ids.slice(0, cap)),
    { r: o.r, positions: o.positions },
  );
  return {
    induction,
    attention,
    strongest: strongestHead(attention),
    data: { task: `brown/${o.task}`, split: 'dev', sentences: sentences.length, maxTokens: cap, cut },
  };
}

export function strongestHead(t: TwinAttention): StrongestHead {
  let best = { layer: 0, head: 0, twinNext: -1 };
  t.twinNext.forEach((row, layer) =>
    row.forEach((value, head) => {
      if (value > best.twinNext) best = { layer, head, twinNext: value };
    }),
  );
  return { ...best, timesUniform: best.twinNext / t.uniform.twinNext };
}
