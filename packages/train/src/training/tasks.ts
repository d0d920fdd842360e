/**
 * @file Labeled data for a fine-tuning run: a Brown task (built in) or CoNLL files the user brings, with the
 * span view used for span F1 and the most-frequent-tag floor a model must beat.
 */
import {
  type BrownTask,
  type LabeledSentence,
  brownTask,
  checkLabels,
  nameLabels,
  readConll,
} from '../data/index.ts';
import { majorityBaseline } from '../metrics/index.ts';

export interface TaskData {
  name: string;
  train: LabeledSentence[];
  dev: LabeledSentence[];
  test: LabeledSentence[];
  /** Labels → IOB2 spans for span F1, when the labels are not spans themselves. */
  spanView?: (labels: readonly string[]) => string[];
}

/** A Brown task; the limits keep the first N training / dev sentences (the demo's budget). */
export function brownTaskData(task: BrownTask, trainLimit?: number, devLimit?: number): TaskData {
  const train = brownTask(task, 'train');
  const dev = brownTask(task, 'dev');
  return {
    name: `brown/${task}`,
    train: trainLimit ? train.slice(0, trainLimit) : train,
    dev: devLimit ? dev.slice(0, devLimit) : dev,
    test: brownTask(task, 'test'),
    // Brown tags mark proper nouns (np…): their maximal runs are the NAME spans of the span task.
    spanView: task === 'pos-brown' ? nameLabels : undefined,
  };
}

/** CoNLL files; every dev/test label must occur in training (else an error naming file and line). */
export function conllTaskData(
  files: { train: string; dev: string; test: string },
  labelColumn: number,
  trainLimit?: number,
): TaskData {
  const read = (path: string) => readConll(path, { labelColumn });
  const train = read(files.train);
  const known = new Set(train.flatMap((s) => s.labels));
  const dev = read(files.dev);
  const test = read(files.test);
  checkLabels(dev, known, files.dev);
  checkLabels(test, known, files.test);
  return { name: files.train, train: trainLimit ? train.slice(0, trainLimit) : train, dev, test };
}

/** Test accuracy of the most frequent tag per (lower-cased) training word: the floor a tagger must beat. */
export function tagFloor(train: readonly LabeledSentence[], test: readonly LabeledSentence[]): number {
  return majorityBaseline(train, test).accuracy;
}
