/**
 * @file Attention mask policy per layer: causal, full unmasking, middle unmasking (the band of docs/method.md,
 * "Baselines"), an explicit list of unmasked layers (the layer-wise experiments of Dukić & Šnajder 2024), or
 * bidirectional.
 * Padding is masked separately, by key lengths, in every layer.
 */

export type MaskPolicy =
  | 'causal'
  | 'bidirectional'
  | 'unmask-full'
  | 'unmask-middle'
  | { unmaskedLayers: readonly number[] };

/**
 * The middle band for L layers: c = floor((L/3)/2)·2, unmasked 0-based layers L/2−1−c/2 … L/2+c/2
 * (L = 32 → 10–21, L = 28 → 9–18). For odd L, L/2 is floored; the band is clipped to 0..L−1.
 */
export function middleBand(layers: number): [number, number] {
  const c = Math.floor(layers / 3 / 2) * 2;
  const half = Math.floor(layers / 2);
  return [Math.max(0, half - 1 - c / 2), Math.min(layers - 1, half + c / 2)];
}

/** For each of `layers` layers, whether its attention is causal. */
export function causalLayers(policy: MaskPolicy, layers: number): boolean[] {
  if (policy === 'causal') return Array(layers).fill(true);
  if (policy === 'bidirectional' || policy === 'unmask-full') return Array(layers).fill(false);
  if (policy === 'unmask-middle') {
    const [lo, hi] = middleBand(layers);
    return Array.from({ length: layers }, (_, l) => l < lo || l > hi);
  }
  if (typeof policy === 'object' && Array.isArray(policy.unmaskedLayers)) {
    for (const l of policy.unmaskedLayers) {
      if (!Number.isInteger(l) || l < 0 || l >= layers)
        throw new Error(`mask policy: unmasked layer ${l} is outside 0..${layers - 1}`);
    }
    const unmasked = new Set(policy.unmaskedLayers);
    return Array.from({ length: layers }, (_, l) => !unmasked.has(l));
  }
  throw new Error(
    `mask policy must be 'causal', 'bidirectional', 'unmask-full', 'unmask-middle' or { unmaskedLayers }, got ${JSON.stringify(policy)}`,
  );
}

/** Parses the CLI form: causal | bidirectional | unmask-full | unmask-middle | layers:0,3,5. */
export function parseMaskPolicy(text: string): MaskPolicy {
  if (text.startsWith('layers:')) {
    const items = text.slice('layers:'.length).split(',');
    // An empty entry is a typo, and an empty list would silently mean 'causal' (Number('') is 0): refused.
    if (items.some((s) => s.trim() === '' || !Number.isInteger(Number(s))))
      throw new Error(
        `mask policy '${text}': expected layers:i,j,… with integer layer indices (no empty list or entry)`,
      );
    return { unmaskedLayers: items.map(Number) };
  }
  if (['causal', 'bidirectional', 'unmask-full', 'unmask-middle'].includes(text)) return text as MaskPolicy;
  throw new Error(
    `mask policy '${text}': expected causal, bidirectional, unmask-full, unmask-middle or layers:i,j,…`,
  );
}
