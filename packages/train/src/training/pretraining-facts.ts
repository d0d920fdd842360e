/**
 * @file `pretraining.json` beside a shipped backbone: how it was made (the exact command), what it cost (steps,
 * tokens seen, wall time), its validation curve, and the validation loss that `scripts/ship-backbone.ts`
 * measured on the saved weights — the number the backbone test reproduces.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const PRETRAINING_FACTS_FILE = 'pretraining.json';

export interface PretrainingFacts {
  kind: 'decoder' | 'encoder';
  /** The command that pretrained it (from the repository root). */
  command: string;
  parameters: number;
  steps: number;
  tokensSeen: number;
  /** Training time from the first to the last logged step, resumes included (tokenizer training excluded). */
  wallSeconds: number;
  tokensPerSecond: number;
  /** Validation loss (mean next-token or masked-token cross-entropy, nats) through pretraining. */
  validation: { step: number; loss: number }[];
  /** The final validation loss as measured again on the saved weights, and how. */
  validationLoss: number;
  validationSlice: { text: string; batchSize: number; context: number; batches: number };
  adapter: string;
  date: string;
}

/** The facts recorded beside a backbone, or null when it has none (e.g. a run directory's `final/`). */
export function readPretrainingFacts(dir: string): PretrainingFacts | null {
  const path = join(dir, PRETRAINING_FACTS_FILE);
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as PretrainingFacts;
  } catch (e) {
    throw new Error(`${path}: not a readable JSON file (${(e as Error).message})`);
  }
}
