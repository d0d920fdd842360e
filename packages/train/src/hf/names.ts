/**
 * @file Hugging Face tensor names ↔ roles. Each supported family declares once, as slots, which HF tensor holds
 * which role (the token embedding, layer i's query weight, the final norm...) and how its layout differs from
 * the project's; the expected names and shapes for a spec, the check of a file's header against them, and the
 * reverse mapping used by export all follow from that one table.
 *
 * Orientation: the project stores a linear layer's matrix as [in, out] (y = x · W); embeddings and the LM head
 * as [vocab, dModel]. HF's nn.Linear stores [out, in] (transposed here); GPT-2's Conv1D stores [in, out] (kept).
 * GPT-2's fused `c_attn` holds q, k and v side by side along its output axis: each role is one third of it.
 */
import type { HfModelSpec } from './config.ts';

/** A role inside block i (the name is `layers.{i}.{role}`). */
export type LayerRole =
  | 'norm1.weight'
  | 'norm1.bias'
  | 'q.weight'
  | 'q.bias'
  | 'k.weight'
  | 'k.bias'
  | 'v.weight'
  | 'v.bias'
  | 'o.weight'
  | 'o.bias'
  | 'norm2.weight'
  | 'norm2.bias'
  | 'mlp.up.weight'
  | 'mlp.up.bias'
  | 'mlp.gate.weight'
  | 'mlp.gate.bias'
  | 'mlp.down.weight'
  | 'mlp.down.bias';
/** A role outside the blocks. `classifier.*` is a token-classification head's. */
export type GlobalRole =
  | 'embed.tokens'
  | 'embed.positions'
  | 'norm.weight'
  | 'norm.bias'
  | 'lmHead.weight'
  | 'classifier.weight'
  | 'classifier.bias';

/** One role's tensor: its shape in the project's orientation and where it lives in the HF file. */
export interface RoleTensor {
  /** `embed.tokens`, `layers.3.q.weight`... */
  role: string;
  shape: number[];
  hf: {
    name: string;
    /** The whole HF tensor's shape. */
    shape: number[];
    /** The HF tensor is the transpose of the project's (nn.Linear's [out, in]). */
    transpose: boolean;
    /** This role is piece `index` of `of` equal pieces along the output (last, after transposing) axis. */
    part?: { index: number; of: number };
  };
}

interface Slot {
  role: LayerRole | GlobalRole;
  /** HF name after the base prefix; `{i}` is the layer. */
  hf: string;
  transpose: boolean;
  part?: { index: number; of: number };
  /** Outside the base model (no prefix): the heads. */
  top?: boolean;
  when?: (s: HfModelSpec) => boolean;
}

const layerNormBias = (s: HfModelSpec) => s.norm.kind === 'layer';
const qkvBias = (s: HfModelSpec) => s.qkvBias;
const oBias = (s: HfModelSpec) => s.oBias;
const mlpBias = (s: HfModelSpec) => s.mlpBias;
const untiedLm = (s: HfModelSpec) => s.head.kind === 'lm' && !s.tiedHead;
const classifier = (s: HfModelSpec) => s.head.kind === 'token-classification';

const qkvParts = (suffix: 'weight' | 'bias'): Slot[] =>
  (['q', 'k', 'v'] as const).map((r, index) => ({
    role: `${r}.${suffix}` as LayerRole,
    hf: `h.{i}.attn.c_attn.${suffix}`,
    transpose: false,
    part: { index, of: 3 },
    when: suffix === 'bias' ? qkvBias : undefined,
  }));

interface Family {
  /** The base model's attribute name in the ForCausalLM class: its tensors carry it as a prefix. */
  prefix: string;
  globals: Slot[];
  layer: Slot[];
  /** Buffers some files carry and transformers ignores on load (`_keys_to_ignore_on_load_unexpected`). */
  ignoredInLayer: string[];
}

/** transformers' modeling_gpt2.py (GPT2Model, GPT2LMHeadModel, GPT2ForTokenClassification). */
const GPT2: Family = {
  prefix: 'transformer.',
  globals: [
    { role: 'embed.tokens', hf: 'wte.weight', transpose: false },
    { role: 'embed.positions', hf: 'wpe.weight', transpose: false },
    { role: 'norm.weight', hf: 'ln_f.weight', transpose: false },
    { role: 'norm.bias', hf: 'ln_f.bias', transpose: false },
    { role: 'lmHead.weight', hf: 'lm_head.weight', transpose: false, top: true, when: untiedLm },
    { role: 'classifier.weight', hf: 'classifier.weight', transpose: true, top: true, when: classifier },
    { role: 'classifier.bias', hf: 'classifier.bias', transpose: false, top: true, when: classifier },
  ],
  layer: [
    { role: 'norm1.weight', hf: 'h.{i}.ln_1.weight', transpose: false },
    { role: 'norm1.bias', hf: 'h.{i}.ln_1.bias', transpose: false },
    ...qkvParts('weight'),
    ...qkvParts('bias'),
    { role: 'o.weight', hf: 'h.{i}.attn.c_proj.weight', transpose: false },
    { role: 'o.bias', hf: 'h.{i}.attn.c_proj.bias', transpose: false, when: oBias },
    { role: 'norm2.weight', hf: 'h.{i}.ln_2.weight', transpose: false },
    { role: 'norm2.bias', hf: 'h.{i}.ln_2.bias', transpose: false },
    { role: 'mlp.up.weight', hf: 'h.{i}.mlp.c_fc.weight', transpose: false },
    { role: 'mlp.up.bias', hf: 'h.{i}.mlp.c_fc.bias', transpose: false, when: mlpBias },
    { role: 'mlp.down.weight', hf: 'h.{i}.mlp.c_proj.weight', transpose: false },
    { role: 'mlp.down.bias', hf: 'h.{i}.mlp.c_proj.bias', transpose: false, when: mlpBias },
  ],
  ignoredInLayer: ['h.{i}.attn.bias', 'h.{i}.attn.masked_bias'],
};

/** transformers' modeling_llama.py; Mistral and Qwen2 name their tensors the same way. */
const LLAMA: Family = {
  prefix: 'model.',
  globals: [
    { role: 'embed.tokens', hf: 'embed_tokens.weight', transpose: false },
    { role: 'norm.weight', hf: 'norm.weight', transpose: false },
    { role: 'lmHead.weight', hf: 'lm_head.weight', transpose: false, top: true, when: untiedLm },
    { role: 'classifier.weight', hf: 'score.weight', transpose: true, top: true, when: classifier },
    { role: 'classifier.bias', hf: 'score.bias', transpose: false, top: true, when: classifier },
  ],
  layer: [
    { role: 'norm1.weight', hf: 'layers.{i}.input_layernorm.weight', transpose: false },
    ...(['q', 'k', 'v', 'o'] as const).flatMap((r): Slot[] => [
      { role: `${r}.weight`, hf: `layers.{i}.self_attn.${r}_proj.weight`, transpose: true },
      {
        role: `${r}.bias`,
        hf: `layers.{i}.self_attn.${r}_proj.bias`,
        transpose: false,
        when: r === 'o' ? oBias : qkvBias,
      },
    ]),
    { role: 'norm2.weight', hf: 'layers.{i}.post_attention_layernorm.weight', transpose: false },
    ...(['gate', 'up', 'down'] as const).flatMap((r): Slot[] => [
      { role: `mlp.${r}.weight`, hf: `layers.{i}.mlp.${r}_proj.weight`, transpose: true },
      { role: `mlp.${r}.bias`, hf: `layers.{i}.mlp.${r}_proj.bias`, transpose: false, when: mlpBias },
    ]),
  ],
  ignoredInLayer: ['layers.{i}.self_attn.rotary_emb.inv_freq'],
};

const FAMILIES = { gpt2: GPT2, llama: LLAMA } as const;

/** A role's shape in the project's orientation. */
function roleShape(s: HfModelSpec, role: LayerRole | GlobalRole): number[] {
  const { dModel: d, dFF: f, vocabSize: v } = s;
  const q = s.heads * s.headDim;
  const kv = s.kvHeads * s.headDim;
  const labels = s.head.kind === 'token-classification' ? s.head.labels.length : 0;
  const shapes: Record<LayerRole | GlobalRole, number[]> = {
    'embed.tokens': [v, d],
    'embed.positions': [s.maxPositions, d],
    'norm.weight': [d],
    'norm.bias': [d],
    'lmHead.weight': [v, d],
    'classifier.weight': [d, labels],
    'classifier.bias': [labels],
    'norm1.weight': [d],
    'norm1.bias': [d],
    'norm2.weight': [d],
    'norm2.bias': [d],
    'q.weight': [d, q],
    'q.bias': [q],
    'k.weight': [d, kv],
    'k.bias': [kv],
    'v.weight': [d, kv],
    'v.bias': [kv],
    'o.weight': [q, d],
    'o.bias': [d],
    'mlp.up.weight': [d, f],
    'mlp.up.bias': [f],
    'mlp.gate.weight': [d, f],
    'mlp.gate.bias': [f],
    'mlp.down.weight': [f, d],
    'mlp.down.bias': [d],
  };
  return shapes[role];
}

const applies = (s: HfModelSpec, slot: Slot): boolean => {
  if (slot.role === 'embed.positions' && s.positions.kind !== 'learned') return false;
  if (slot.role.startsWith('mlp.gate.') && s.activation !== 'silu_glu') return false;
  if (
    (slot.role === 'norm1.bias' || slot.role === 'norm2.bias' || slot.role === 'norm.bias') &&
    !layerNormBias(s)
  )
    return false;
  return slot.when?.(s) ?? true;
};

/** The HF tensor's shape given one part's project shape. */
function hfShape(slot: Slot, shape: number[]): number[] {
  const whole = [...shape];
  if (slot.part) whole[whole.length - 1] *= slot.part.of;
  return slot.transpose ? [...whole].reverse() : whole;
}

function fromSlot(s: HfModelSpec, slot: Slot, prefix: string, layer?: number): RoleTensor {
  const shape = roleShape(s, slot.role);
  const name = `${slot.top ? '' : prefix}${slot.hf.replace('{i}', String(layer))}`;
  return {
    role: layer === undefined ? slot.role : `layers.${layer}.${slot.role}`,
    shape,
    hf: {
      name,
      shape: hfShape(slot, shape),
      transpose: slot.transpose,
      ...(slot.part ? { part: slot.part } : {}),
    },
  };
}

/**
 * Every tensor a model of `spec` has, role by role. `prefixed`: the base model's names carry its attribute
 * (`transformer.`, `model.`), as `save_pretrained` of a `…ForCausalLM` writes them; some files (GPT-2's on the
 * hub) were saved from the bare base model and lack it.
 */
export function hfRoleTensors(spec: HfModelSpec, prefixed = true): RoleTensor[] {
  const fam = FAMILIES[spec.family];
  const prefix = prefixed ? fam.prefix : '';
  const out: RoleTensor[] = [];
  for (const slot of fam.globals.filter((g) => !g.top && applies(spec, g)))
    out.push(fromSlot(spec, slot, prefix));
  for (let i = 0; i < spec.layers; i++)
    for (const slot of fam.layer) if (applies(spec, slot)) out.push(fromSlot(spec, slot, prefix, i));
  for (const slot of fam.globals.filter((g) => g.top && applies(spec, g)))
    out.push(fromSlot(spec, slot, prefix));
  return out;
}

/** The HF names `spec`'s model has and may have, as patterns: `model.layers.{0..3}.mlp.up_proj.weight`. */
export function supportedHfNames(spec: HfModelSpec, prefixed = true): string[] {
  const fam = FAMILIES[spec.family];
  const prefix = prefixed ? fam.prefix : '';
  const range = `{0..${spec.layers - 1}}`;
  const names = new Set<string>();
  const add = (slot: Slot) => names.add(`${slot.top ? '' : prefix}${slot.hf.replace('{i}', range)}`);
  const ordered = [...fam.globals.filter((g) => !g.top), ...fam.layer, ...fam.globals.filter((g) => g.top)];
  for (const slot of ordered) if (applies(spec, slot)) add(slot);
  if (spec.head.kind === 'lm' && spec.tiedHead) names.add('lm_head.weight (ignored: tied to the embedding)');
  for (const t of fam.ignoredInLayer) names.add(`${prefix}${t.replace('{i}', range)} (ignored)`);
  return [...names];
}

/** What a header listing holds against what the spec expects. */
export interface HfTensorCheck {
  /** The expected tensors, when nothing is wrong. */
  tensors: RoleTensor[];
  /** Names present and deliberately not read (buffers, a tied head's copy). */
  ignored: string[];
  /** Whether the base model's names carry its prefix. */
  prefixed: boolean;
  /** `missing tensor 'x' (expected [..])`, `tensor 'x': expected shape [..], found [..]`, `unexpected tensor 'x' [..]`. */
  problems: string[];
}

const fmtShape = (shape: readonly number[]) => `[${shape.join(', ')}]`;
const nameOf = (name: string) => `'${name.length > 80 ? `${name.slice(0, 80)}…` : name}'`;
const sameShape = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/** Checks a listing (name → shape, from the files' headers) against `spec`; never throws. */
export function checkHfTensors(spec: HfModelSpec, listing: Record<string, readonly number[]>): HfTensorCheck {
  const fam = FAMILIES[spec.family];
  const names = Object.keys(listing);
  // Unprefixed only when the file shows it (a bare base model's names); else what save_pretrained writes.
  const bare = new Set(hfRoleTensors(spec, false).map((t) => t.hf.name));
  const prefixed = names.some((n) => n.startsWith(fam.prefix)) || !names.some((n) => bare.has(n));
  const tensors = hfRoleTensors(spec, prefixed);
  const expected = new Map(tensors.map((t) => [t.hf.name, t.hf.shape]));
  const ignoredNames = new Set<string>();
  for (let i = 0; i < spec.layers; i++)
    for (const t of fam.ignoredInLayer)
      ignoredNames.add(`${prefixed ? fam.prefix : ''}${t.replace('{i}', String(i))}`);
  // transformers re-ties a tied head after loading, whatever the file held.
  if (spec.head.kind === 'lm' && spec.tiedHead) ignoredNames.add('lm_head.weight');

  const problems: string[] = [];
  const ignored: string[] = [];
  for (const [name, shape] of expected) {
    if (!Object.hasOwn(listing, name))
      problems.push(`missing tensor '${name}' (expected ${fmtShape(shape)})`);
    else if (!sameShape(listing[name], shape))
      problems.push(`tensor '${name}': expected shape ${fmtShape(shape)}, found ${fmtShape(listing[name])}`);
  }
  for (const name of names) {
    if (expected.has(name)) continue;
    if (ignoredNames.has(name)) ignored.push(name);
    else problems.push(`unexpected tensor ${nameOf(name)} ${fmtShape(listing[name])}`);
  }
  return { tensors, ignored, prefixed, problems };
}

/** Problems listed in one error; the rest are counted. */
const MAX_LISTED = 10;

/**
 * `checkHfTensors`, throwing when anything is wrong: the error names `source` (the file or index), lists the
 * problems and, when a name is unknown, the names this architecture supports.
 */
export function matchHfTensors(
  spec: HfModelSpec,
  listing: Record<string, readonly number[]>,
  source: string,
): HfTensorCheck {
  const check = checkHfTensors(spec, listing);
  const { problems } = check;
  if (problems.length === 0) return check;
  const more = problems.length > MAX_LISTED ? `; and ${problems.length - MAX_LISTED} more` : '';
  const unknown = problems.some((p) => p.startsWith('unexpected'))
    ? `. Supported names for ${spec.architecture} with this config: ${supportedHfNames(spec, check.prefixed).join(', ')}`
    : '';
  throw new Error(
    `Hugging Face weights ${source} do not fit ${spec.architecture} (${spec.layers} layer${spec.layers === 1 ? '' : 's'}, dModel ${spec.dModel}): ${problems.slice(0, MAX_LISTED).join('; ')}${more}${unknown}`,
  );
}
