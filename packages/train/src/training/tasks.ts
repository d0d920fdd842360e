/**
 * @file Labeled data for a fine-tuning run: a Brown task (built in) or CoNLL/CoNLL-U files the user brings,
 * with the span scheme of the labels (or the span view) used for span F1, and the most-frequent-tag floor a
 * model must beat.
 */
import {
  type BrownTask,
  type ConllFormat,
  type LabeledSentence,
  brownTask,
  checkLabels,
  nameLabels,
  readConll,
} from '../data/index.ts';
import { type SchemeChoice, type SchemeDecision, chooseScheme, majorityBaseline } from '../metrics/index.ts';

export interface TaskData {
  name: string;
  train: LabeledSentence[];
  dev: LabeledSentence[];
  test: LabeledSentence[];
  /** Labels → IOB2 spans for span F1, when the labels are not spans themselves. */
  spanView?: (labels: readonly string[]) => string[];
  /** The span scheme of the labels (scheme null: not spans); when left out, `spanScheme` detects it. */
  scheme?: SchemeDecision;
  /** How the data was read and scored, for the user: file formats, skipped lines, the span scheme. */
  notes?: string[];
}

/** The labels' span scheme: as decided when the data was read, else detected from all splits. */
export function spanScheme(data: TaskData): SchemeDecision {
  const splits = [
    { source: `${data.name} train`, sentences: data.train },
    { source: `${data.name} dev`, sentences: data.dev },
    { source: `${data.name} test`, sentences: data.test },
  ];
  return data.scheme ?? chooseScheme('auto', splits);
}

/** One line on the scheme decision, e.g. "span scheme IOB1 (detected: …); scored as IOB2 after conversion". */
export function schemeNote(name: string, d: SchemeDecision): string {
  if (d.scheme === null)
    return `${name}: no span scheme (${d.reason}): span F1 is not computed; accuracy is the score`;
  const how = d.detected ? 'detected' : 'forced';
  const conversion =
    d.scheme === 'iob2'
      ? ''
      : '; the model learns the labels as given, spans are converted to IOB2 for scoring';
  return `${name}: span scheme ${d.scheme.toUpperCase()} (${how}: ${d.reason})${conversion}; span F1 is reported strict and lenient`;
}

/** A Brown task; the limits keep the first N training / dev sentences (the demo's budget). */
export function brownTaskData(
  task: BrownTask,
  trainLimit?: number,
  devLimit?: number,
  scheme: SchemeChoice = 'auto',
): TaskData {
  const name = `brown/${task}`;
  const allTrain = brownTask(task, 'train');
  const allDev = brownTask(task, 'dev');
  const train = trainLimit ? allTrain.slice(0, trainLimit) : allTrain;
  const dev = devLimit ? allDev.slice(0, devLimit) : allDev;
  const test = brownTask(task, 'test');
  const decision = chooseScheme(scheme, [
    { source: `${name} train`, sentences: train },
    { source: `${name} dev`, sentences: dev },
    { source: `${name} test`, sentences: test },
  ]);
  return {
    name,
    train,
    dev,
    test,
    // Brown tags mark proper nouns (np…): their maximal runs are the NAME spans of the span task.
    spanView: task === 'pos-brown' ? nameLabels : undefined,
    scheme: decision,
    notes: decision.scheme === null && task === 'pos-brown' ? [] : [schemeNote(name, decision)],
  };
}

export type ConllTaskOptions = {
  /** Label column (default: the last column; UPOS in CoNLL-U). */
  labelColumn?: number;
  trainLimit?: number;
  /** The span scheme, or `auto` (the default) to detect it from the labels of all three files. */
  scheme?: SchemeChoice;
  /** File format, `auto` (the default): CoNLL-U by extension or content. */
  format?: ConllFormat | 'auto';
};

/**
 * CoNLL or CoNLL-U files; every dev/test label must occur in training (else an error naming file and line),
 * and the labels must fit the span scheme (see `chooseScheme`).
 */
export function conllTaskData(
  files: { train: string; dev: string; test: string },
  options: ConllTaskOptions = {},
): TaskData {
  const { labelColumn, trainLimit, scheme = 'auto', format } = options;
  const notes: string[] = [];
  const read = (path: string) => readConll(path, { labelColumn, format, onNotice: (m) => notes.push(m) });
  const allTrain = read(files.train);
  const known = new Set(allTrain.flatMap((s) => s.labels));
  const dev = read(files.dev);
  const test = read(files.test);
  checkLabels(dev, known, files.dev);
  checkLabels(test, known, files.test);
  const train = trainLimit ? allTrain.slice(0, trainLimit) : allTrain;
  const decision = chooseScheme(scheme, [
    { source: files.train, sentences: train },
    { source: files.dev, sentences: dev },
    { source: files.test, sentences: test },
  ]);
  notes.push(schemeNote(files.train, decision));
  return { name: files.train, train, dev, test, scheme: decision, notes };
}

/** Test accuracy of the most frequent tag per (lower-cased) training word: the floor a tagger must beat. */
export function tagFloor(train: readonly LabeledSentence[], test: readonly LabeledSentence[]): number {
  return majorityBaseline(train, test).accuracy;
}
