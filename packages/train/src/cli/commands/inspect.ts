/**
 * @file `reprise inspect`: does a pretrained backbone have induction heads? The repeated-random-sequence score
 * (decoders only) and, under sequence repetition, each head's attention from the last copy to the twin + 1 key
 * (what an induction head reads) and to the twin, on Brown dev sentences.
 */
import Table from 'cli-table3';
import { type Command, Option } from 'commander';
import type { TwinAttention } from '../../analysis/attention-to-twin.ts';
import type { InductionScore } from '../../analysis/induction.ts';
import {
  type BackboneProbe,
  PROBE_DEFAULTS as P,
  type StrongestHead,
  probeBackbone,
} from '../../analysis/probe.ts';
import { BROWN_TASKS, type BrownTask } from '../../data/index.ts';
import { loadBackbone } from '../../training/backbone-checkpoint.ts';
import { deviceOption, intArg, openDevice } from '../options.ts';

export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description(
      'induction heads in a pretrained backbone: repeated-sequence score, attention to the twin + 1 under SR',
    )
    .requiredOption('--model <dir>', 'pretrained backbone checkpoint (e.g. runs/pre/final)')
    .option(
      '--length <n>',
      'random tokens per half of each repeated sequence',
      intArg('--length', 2),
      P.length,
    )
    .option('--count <n>', 'repeated random sequences scored', intArg('--count', 1), P.count)
    .option('--seed <n>', 'seed of the random sequences', intArg('--seed'), P.seed)
    .addOption(
      new Option('--task <task>', 'Brown task whose dev sentences are repeated')
        .choices(BROWN_TASKS as unknown as string[])
        .default(P.task),
    )
    .option(
      '--sentences <n>',
      'dev sentences for the attention tables',
      intArg('--sentences', 1),
      P.sentences,
    )
    .option(
      '--r <n>',
      'extra copies under SR (the twin is in the copy before the last)',
      intArg('--r', 1),
      P.r,
    )
    .addOption(
      new Option('--positions <how>', 'positions across copies')
        .choices(['continue', 'reset'])
        .default(P.positions),
    )
    .option(
      '--max-tokens <n>',
      'subwords kept per sentence before repetition',
      intArg('--max-tokens', 1),
      P.maxTokens,
    )
    .option('--json', 'print one JSON object instead of tables', false)
    .addOption(deviceOption())
    .action(async (a) => {
      const device = await openDevice(a.device);
      const { model, tokenizer, config } = loadBackbone(a.model, device);
      const cfg = model.config;
      const { induction, attention, strongest, data } = await probeBackbone(model, tokenizer, {
        length: a.length,
        count: a.count,
        seed: a.seed,
        task: a.task as BrownTask,
        sentences: a.sentences,
        r: a.r,
        positions: a.positions,
        maxTokens: a.maxTokens,
      });
      const backbone = {
        kind: cfg.kind,
        objective: config.objective,
        layers: cfg.layers,
        heads: cfg.heads,
        dModel: cfg.dModel,
        vocabSize: cfg.vocabSize,
        parameters: model.parameterCount,
      };
      if (a.json) {
        console.log(JSON.stringify({ model: a.model, backbone, induction, attention, data }, null, 2));
        return;
      }
      console.log(
        `${a.model}: ${cfg.kind} (${config.objective}), ${cfg.layers} layers × ${cfg.heads} heads, d = ${cfg.dModel}, vocabulary ${cfg.vocabSize}, ${backbone.parameters.toLocaleString('en-US')} parameters`,
      );
      console.log(`\n${inductionText(induction)}`);
      console.log(`\n${attentionText(attention, data, strongest)}`);
    });
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const plain = { head: [], border: [] };

function inductionText(s: InductionScore | { skipped: string }): string {
  if ('skipped' in s) return `Repeated-sequence (induction) score: skipped: ${s.skipped}.`;
  const table = new Table({ head: ['', 'loss (nats)', 'top-1 accuracy', 'targets'], style: plain });
  table.push(
    ['first half', s.first.loss.toFixed(3), pct(s.first.accuracy), String(s.first.targets)],
    ['second half', s.second.loss.toFixed(3), pct(s.second.accuracy), String(s.second.targets)],
    ['chance', s.chance.loss.toFixed(3), pct(s.chance.accuracy), ''],
  );
  return [
    `Repeated-sequence (induction) score: ${s.count} sequences of ${s.length} random tokens written twice (seed ${s.seed}, drawn from ${s.candidates} non-special tokens)`,
    table.toString(),
    `second half − first half: ${(s.second.loss - s.first.loss).toFixed(3)} nats, ${(100 * (s.second.accuracy - s.first.accuracy)).toFixed(1)} accuracy points (an induction head copies from the first copy: low loss, high accuracy on the second half)`,
  ].join('\n');
}

function attentionText(t: TwinAttention, data: BackboneProbe['data'], best: StrongestHead): string {
  const matrix = (m: number[][]) => {
    const table = new Table({
      head: ['', ...m[0]!.map((_, h) => `head ${h + 1}`)],
      style: plain,
    });
    m.forEach((row, l) => table.push([`layer ${l + 1}`, ...row.map(pct)]));
    return table.toString();
  };
  const cut = data.cut ? `; ${data.cut} cut to their first ${data.maxTokens} subwords` : '';
  return [
    `Attention from the last copy under SR r = ${t.r}, positions ${t.positions === 'continue' ? 'continuing across copies' : 'restarting in each copy'}, ${t.mask} mask: ${data.sentences} ${data.task} dev sentences${cut}`,
    `on the twin + 1 (the token after the twin in the copy before: what an induction head reads), mean over ${t.tokens.twinNext} tokens; a head attending evenly: ${pct(t.uniform.twinNext)}`,
    matrix(t.twinNext),
    `on the twin (the same token in the copy before), mean over ${t.tokens.twin} tokens; a head attending evenly: ${pct(t.uniform.twin)}`,
    matrix(t.twin),
    `most induction-like head: layer ${best.layer + 1}, head ${best.head + 1}: ${pct(best.twinNext)} on the twin + 1, ${best.timesUniform.toFixed(1)}× a head attending evenly`,
  ].join('\n');
}
