/**
 * @file The Brown tasks as labeled sentences per split: universal and Brown part-of-speech tagging, proper-name
 * spans, and the unlabeled training text for pretraining.
 */
import { loadBrown } from './brown.ts';
import type { LabeledSentence } from './labeled.ts';
import { nameLabels } from './names.ts';
import { SPLITS, type Split, brownSplit } from './split.ts';
import { brownBaseTag, universalTag } from './tagsets.ts';

export type { LabeledSentence } from './labeled.ts';

export type BrownTask = 'pos-universal' | 'pos-brown' | 'names';

export const BROWN_TASKS: readonly BrownTask[] = ['pos-universal', 'pos-brown', 'names'];

/** The sentences of `split` (documents in name order) labeled for `task`; words are kept as written. */
export function brownTask(task: BrownTask, split: Split): LabeledSentence[] {
  // Names come from command lines too: refuse a misspelt one rather than fall through to a default.
  if (!BROWN_TASKS.includes(task))
    throw new Error(`unknown Brown task '${task}' (expected ${BROWN_TASKS.join(', ')})`);
  if (!SPLITS.includes(split)) throw new Error(`unknown split '${split}' (expected ${SPLITS.join(', ')})`);
  const sentences: LabeledSentence[] = [];
  for (const doc of brownSplit(split, loadBrown())) {
    for (const { words, tags } of doc.sentences) {
      const labels =
        task === 'names'
          ? nameLabels(tags)
          : tags.map(task === 'pos-universal' ? universalTag : brownBaseTag);
      sentences.push({ words: [...words], labels });
    }
  }
  return sentences;
}

/** The words of the training documents only, so that pretraining never sees dev or test text. */
export function pretrainingSentences(): string[][] {
  return brownSplit('train', loadBrown()).flatMap((doc) => doc.sentences.map((s) => [...s.words]));
}
