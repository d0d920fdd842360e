import { longestRepeatable } from '@reprise/model';
/**
 * @file `reprise inspect`: does a pretrained backbone have induction heads? The repeated-random-sequence score
 * (decoders only) and, under sequence repetition, each head's attention from the last copy to the twin + 1 key
 * (what an induction head reads) and to the twin, on Brown dev sentences.
 */
import Table from 'cli-table3';
import { type Command, Option } from 'commander';
import { type TwinAttention, attentionToTwin } from '../../analysis/attention-to-twin.ts';
import { type InductionScore, inductionScore } from '../../analysis/induction.ts';
import { BROWN_TASKS, type BrownTask, brownTask } from '../../data/index.ts';
import { loadBackbone } from '../../training/backbone-checkpoint.ts';
import { deviceOption, intArg, openDevice } from '../options.ts';

export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description(
      'induction heads in a pretrained backbone: repeated-sequence score, attention to the twin + 1 under SR',
    )
    .requiredOption('--model <dir>', 'pretrained backbone checkpoint (e.g. runs/pre/final)')
    .option('--length <n>', 'random tokens per half of each repeated sequence', intArg('--length', 2), 50)
    .option('--count <n>', 'repeated random sequences scored', intArg('--count', 1), 32)
    .option('--seed <n>', 'seed of the random sequences', intArg('--seed'), 0)
    .addOption(
      new Option('--task <task>', 'Brown task whose dev sentences are repeated')
        .choices(BROWN_TASKS as unknown as string[])
        .default('pos-universal'),
    )
    .option('--sentences <n>', 'dev sentences for the attention tables', intArg('--sentences', 1), 64)
    .option('--r <n>', 'extra copies under SR (the twin is in the copy before the last)', intArg('--r', 1), 1)
    .addOption(
      new Option('--positions <how>', 'positions across copies')
        .choices(['continue', 'reset'])
        .default('continue'),
    )
    .option(
      '--max-tokens <n>',
      'subwords kept per sentence before repetition',
      intArg('--max-tokens', 1),
      256,
    )
    .option('--json', 'print one JSON object instead of tables', false)
    .addOption(deviceOption())
    .action(async (a) => {
      const device = await openDevice(a.device);
      const { model, tokenizer, config } = loadBackbone(a.model, device);
      const cfg = model.config;
      const induction: InductionScore | { skipped: string } =
        cfg.kind === 'decoder'
          ? await inductionScore(model, {
              length: a.length,
              count: a.count,
              seed: a.seed,
              exclude: Object.values(tokenizer.special),
            })
          : {
              skipped: `the repeated-sequence score is defined for decoders (next-token prediction); this backbone is an ${cfg.kind} trained with masked LM`,
            };
      const cap = Math.min(
        a.maxTokens,
        longestRepeatable(model.positionLimit, { r: a.r, positions: a.positions }),
      );
      if (cap < 1)
        throw new Error(`--r ${a.r}: not one token fits ${model.positionLimit} positions once repeated`);
      const sentences = brownTask(a.task as BrownTask, 'dev')
        .slice(0, a.sentences)
        .map((s) => tokenizer.encodeWords(s.words).ids);
      const cut = sentences.filter((ids) => ids.length > cap).length;
      const attention = await attentionToTwin(
        model,
        sentences.map((ids) => ids.slice(0, cap)),
        { r: a.r, positions: a.positions },
      );
      const backbone = {
        kind: cfg.kind,
        objective: config.objective,
        layers: cfg.layers,
        heads: cfg.heads,
        dModel: cfg.dModel,
        vocabSize: cfg.vocabSize,
        parameters: model.parameterCount,
      };
      const data = {
        task: `brown/${a.task}`,
        split: 'dev',
        sentences: sentences.length,
        maxTokens: cap,
        cut,
      };
      if (a.json) {
        console.log(JSON.stringify({ model: a.model, backbone, induction, attention, data }, null, 2));
        return;
      }
      console.log(
        `${a.model}: ${cfg.kind} (${config.objective}), ${cfg.layers} layers × ${cfg.heads} heads, d = ${cfg.dModel}, vocabulary ${cfg.vocabSize}, ${backbone.parameters.toLocaleString('en-US')} parameters`,
      );
      console.log(`\n${inductionText(induction)}`);
      console.log(`\n${attentionText(attention, data)}`);
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

function attentionText(
  t: TwinAttention,
  data: { task: string; sentences: number; maxTokens: number; cut: number },
): string {
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
    strongest(t),
  ].join('\n');
}

/** The head that puts the most attention on twin + 1, against a head attending evenly. */
function strongest(t: TwinAttention): string {
  let best = { layer: 0, head: 0, value: -1 };
  t.twinNext.forEach((row, layer) =>
    row.forEach((value, head) => {
      if (value > best.value) best = { layer, head, value };
    }),
  );
  const times = best.value / t.uniform.twinNext;
  return `most induction-like head: layer ${best.layer + 1}, head ${best.head + 1}: ${pct(best.value)} on the twin + 1, ${times.toFixed(1)}× a head attending evenly`;
}
