/**
 * @file The backbones shipped in the repository (`backbones/`): a decoder (causal LM) and an encoder (masked LM)
 * of the same size, pretrained on the Brown training text by the commands in `backbones/README.md`. The demo
 * and the default experiment grid fine-tune from them; any other checkpoint can be given instead.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: this file is packages/train/src/training/shipped.ts. */
const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

export const SHIPPED_BACKBONES = {
  decoder: join(ROOT, 'backbones', 'decoder'),
  encoder: join(ROOT, 'backbones', 'encoder'),
  /** The decoder's twin pretrained without repeated sentences (the grid's induction group). */
  'decoder-norepeat': join(ROOT, 'backbones', 'decoder-norepeat'),
} as const;
