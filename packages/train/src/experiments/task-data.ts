/**
 * @file The labeled data of an experiment's tasks at its budget: Brown splits subsampled evenly (every k-th
 * sentence, so every genre of the genre-stratified split stays in), and the synthetic right-context task.
 */
import { type LabeledSentence, brownTask, nameLabels, syntheticSentences } from '../data/index.ts';
import type { TaskData } from '../training/tasks.ts';
import type { ExperimentConfig, ExperimentTask, TrainSentences } from './config.ts';

/** `n` items spread evenly over `items` (all of them when n is 'all' or ≥ length), in order. */
export function evenly<T>(items: readonly T[], n: number | 'all'): T[] {
  if (n === 'all' || n >= items.length) return [...items];
  return Array.from({ length: n }, (_, i) => items[Math.floor((i * items.length) / n)]!);
}

/** The task's data at the config's budget; `trainSentences` overrides the config's (a group's learning-curve point). */
export function experimentTaskData(
  task: ExperimentTask,
  data: ExperimentConfig['data'],
  trainSentences: TrainSentences = data.trainSentences,
): TaskData {
  if (task === 'synthetic') {
    const s = data.synthetic;
    const make = (sentences: number, seed: number): LabeledSentence[] =>
      syntheticSentences({ sentences, classes: s.classes, minWords: s.minWords, maxWords: s.maxWords, seed });
    return { name: 'synthetic', train: make(s.train, 101), dev: make(s.dev, 102), test: make(s.test, 103) };
  }
  return {
    name: `brown/${task}`,
    train: evenly(brownTask(task, 'train'), trainSentences),
    dev: evenly(brownTask(task, 'dev'), data.devSentences),
    test: evenly(brownTask(task, 'test'), data.testSentences),
    spanView: task === 'pos-brown' ? nameLabels : undefined,
  };
}
