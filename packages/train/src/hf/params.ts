/**
 * @file Roles (names.ts: `layers.3.q.weight`, `embed.tokens`...) ↔ the project's parameter names
 * (`blocks.3.attn.q.weight`...), declared once here for import and export. A block role's name comes from the
 * model's own declaration (`blockParams`), so the GELU MLP's `mlp.fc`/`mlp.proj` and SwiGLU's
 * `mlp.gate`/`mlp.up`/`mlp.down` follow the config; the token-classification head is the labeler's
 * `head.weight`/`head.bias`.
 */
import { type BlockRole, type TransformerConfig, blockParams } from '@reprise/model';
import type { GlobalRole, LayerRole } from './names.ts';

const BLOCK_ROLES: Record<LayerRole, BlockRole> = {
  'norm1.weight': 'ln1W',
  'norm1.bias': 'ln1B',
  'q.weight': 'qW',
  'q.bias': 'qB',
  'k.weight': 'kW',
  'k.bias': 'kB',
  'v.weight': 'vW',
  'v.bias': 'vB',
  'o.weight': 'attnOutW',
  'o.bias': 'attnOutB',
  'norm2.weight': 'ln2W',
  'norm2.bias': 'ln2B',
  'mlp.up.weight': 'mlpUpW',
  'mlp.up.bias': 'mlpUpB',
  'mlp.gate.weight': 'mlpGateW',
  'mlp.gate.bias': 'mlpGateB',
  'mlp.down.weight': 'mlpDownW',
  'mlp.down.bias': 'mlpDownB',
};

const GLOBAL_NAMES: Record<GlobalRole, string> = {
  'embed.tokens': 'embed.tokens',
  'embed.positions': 'embed.positions',
  'norm.weight': 'norm.weight',
  'norm.bias': 'norm.bias',
  'lmHead.weight': 'lmHead.weight',
  'classifier.weight': 'head.weight',
  'classifier.bias': 'head.bias',
};

/** The project's parameter name of `role` in a model of `cfg`; throws for a role the config's block lacks. */
export function projectParamName(cfg: TransformerConfig, role: string): string {
  if (Object.hasOwn(GLOBAL_NAMES, role)) return GLOBAL_NAMES[role as GlobalRole];
  const m = /^layers\.(\d+)\.(.+)$/.exec(role);
  const blockRole = m && Object.hasOwn(BLOCK_ROLES, m[2]) ? BLOCK_ROLES[m[2] as LayerRole] : undefined;
  if (!m || blockRole === undefined) throw new Error(`Hugging Face role '${role}' is not a known role`);
  const named = blockParams(cfg, Number(m[1]))[blockRole];
  if (!named)
    throw new Error(
      `Hugging Face role '${role}' has no parameter in this model's block (norm ${cfg.norm ?? 'layer'}, mlp ${cfg.mlp ?? 'gelu'}, its biases)`,
    );
  return named.name;
}

/** `byRole` renamed to the project's parameter names. */
export function projectFromRoles<T>(cfg: TransformerConfig, byRole: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(byRole).map(([role, t]) => [projectParamName(cfg, role), t]));
}

/** The tensors of `roles` taken from `byName` (the project's names), keyed by role; a missing one throws. */
export function rolesFromProject<T>(
  cfg: TransformerConfig,
  roles: readonly string[],
  byName: Record<string, T>,
): Record<string, T> {
  const out: Record<string, T> = {};
  for (const role of roles) {
    const name = projectParamName(cfg, role);
    if (!Object.hasOwn(byName, name))
      throw new Error(`export: parameter '${name}' (Hugging Face role '${role}') is missing from the model`);
    out[role] = byName[name];
  }
  return out;
}
