/**
 * @file The backbone `finetune --backbone DIR` starts from: one of the project's own checkpoints, or a Hugging
 * Face model directory (told apart by `isHfModelDir`: its config.json has `model_type`), imported with its own
 * tokenizer.
 */
import type { Device } from '@reprise/core';
import type { Transformer } from '@reprise/model';
import { type HfModelSpec, importHfModel, isHfModelDir } from '../hf/index.ts';
import type { WordTokenizer } from '../tokenizer/index.ts';
import { loadBackbone } from './backbone-checkpoint.ts';

export interface FinetuneBackbone {
  model: Transformer;
  tokenizer: WordTokenizer & { toJSON(): string };
  /** The Hugging Face model's spec, when the directory is one. */
  hf: HfModelSpec | null;
}

/**
 * Loads `dir` as a backbone to fine-tune. An imported model trains without dropout (the Llama family has none;
 * the project cannot reproduce GPT-2's attention dropout); a `…ForTokenClassification` model's own head is
 * dropped (the labeler gets a fresh head for the task's labels).
 */
export function loadFinetuneBackbone(dir: string, device: Device): FinetuneBackbone {
  if (!isHfModelDir(dir)) {
    const { model, tokenizer } = loadBackbone(dir, device);
    return { model, tokenizer, hf: null };
  }
  const imported = importHfModel(dir, device);
  if (imported.labeler) for (const t of Object.values(imported.labeler.head)) t.dispose();
  if (!imported.tokenizer) {
    imported.model.dispose();
    throw new Error(
      `Hugging Face model ${dir} has no tokenizer.json: fine-tuning needs the model's own tokenizer`,
    );
  }
  return { model: imported.model, tokenizer: imported.tokenizer, hf: imported.spec };
}

/**
 * Refuses a labeler whose longest sequence, `copies` of `maxTokens` subwords, would pass Mistral's sliding
 * attention window: beyond it Mistral attends to the last `sliding_window` tokens only, which the project's
 * full attention does not reproduce.
 */
export function checkSlidingWindow(hf: HfModelSpec | null, copies: number, maxTokens: number): void {
  if (!hf?.slidingWindow) return;
  const longest = copies * maxTokens;
  if (longest > hf.slidingWindow)
    throw new Error(
      `${hf.architecture}: ${copies} cop${copies === 1 ? 'y' : 'ies'} of up to ${maxTokens} subwords make ${longest} tokens, past the model's sliding_window (${hf.slidingWindow}), where its attention differs from full attention; lower --max-tokens or --r`,
    );
}
