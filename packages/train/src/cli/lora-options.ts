/**
 * @file The `--lora` options of `reprise finetune`: the target list's parser, and the LoRA config they give
 * (defaults from @reprise/model's `makeLoraConfig`), or nothing when --lora is absent (full fine-tuning).
 */
import { LORA_TARGETS, type LoraConfig, type LoraTarget, makeLoraConfig } from '@reprise/model';
import { InvalidArgumentError } from 'commander';

/** `q,k,v,o` → the targets, each one of LORA_TARGETS, none twice. */
export function loraTargetsArg(value: string): LoraTarget[] {
  const names = value.split(',').map((s) => s.trim());
  for (const n of names)
    if (!(LORA_TARGETS as readonly string[]).includes(n))
      throw new InvalidArgumentError(
        `--lora-targets: '${n}' is not a projection; expected a comma-separated list of ${LORA_TARGETS.join(', ')}`,
      );
  if (new Set(names).size !== names.length)
    throw new InvalidArgumentError(`--lora-targets: a projection is listed twice in '${value}'`);
  return names as LoraTarget[];
}

interface LoraArgs {
  lora?: number;
  loraAlpha?: number;
  loraDropout?: number;
  loraTargets?: LoraTarget[];
  loraMerge?: boolean;
}

/** `{ lora }` for FinetuneOptions when --lora is given; refuses the other --lora-* flags without it. */
export function loraOption(a: LoraArgs): { lora?: LoraConfig } {
  if (a.lora === undefined) {
    const stray = (
      [
        ['--lora-alpha', a.loraAlpha],
        ['--lora-dropout', a.loraDropout],
        ['--lora-targets', a.loraTargets],
        ['--lora-merge', a.loraMerge],
      ] as const
    ).filter(([, v]) => v !== undefined);
    if (stray.length)
      throw new Error(
        `${stray.map(([flag]) => flag).join(', ')} set without --lora <rank> (full fine-tuning)`,
      );
    return {};
  }
  return {
    lora: makeLoraConfig({
      rank: a.lora,
      alpha: a.loraAlpha,
      dropout: a.loraDropout,
      targets: a.loraTargets,
    }),
  };
}
