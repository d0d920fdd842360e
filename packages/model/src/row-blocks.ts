/**
 * @file Row blocks: a [rows, D] parameter larger than the adapter's largest bindable buffer
 * (maxStorageBufferBindingSize: 128 MiB on llvmpipe and lavapipe, where GPT-2 small's 50,257 × 768 token table
 * is 154 MB) is held as consecutive blocks of whole rows, each one buffer, named `<name>@rows<first row>`.
 * The model gathers from each block (rows outside it read as zero, so the blocks' gathers sum to the whole
 * table's) and concatenates a tied head's logits over them. Checkpoints never see blocks: `toHost` joins them
 * and loading splits again for the adapter at hand (packages/train/src/training/weights.ts), so a model saved
 * on one adapter loads on any other. (Optimizer moments are saved under the blocks' names: a training run
 * resumes on an adapter with the same limit.)
 */

const MARK = '@rows';

/**
 * The parameters that may be held in row blocks: the vocabulary-sized tables, the only ones that outgrow the
 * limit at the sizes this engine runs (every other is read whole by the blocks' ops).
 */
export const ROW_BLOCKED_PARAMETERS: ReadonlySet<string> = new Set(['embed.tokens', 'lmHead.weight']);

/** The name of the block of `name` whose first row is `start`. */
export const rowBlockName = (name: string, start: number): string => `${name}${MARK}${start}`;

/** The parameter and first row a block's name stands for; null for a name that is not a block's. */
export function parseRowBlock(name: string): { name: string; start: number } | null {
  const at = name.lastIndexOf(MARK);
  if (at < 0) return null;
  const digits = name.slice(at + MARK.length);
  return /^(0|[1-9]\d*)$/.test(digits) ? { name: name.slice(0, at), start: Number(digits) } : null;
}

/** The parameter a (possibly block) name belongs to. */
export const parameterName = (name: string): string => parseRowBlock(name)?.name ?? name;

/**
 * First rows of the blocks that hold an f32 parameter of `shape` within `maxBufferBytes` per buffer: [0] when
 * the whole parameter fits, else blocks of equal size but the last.
 */
export function rowBlockStarts(name: string, shape: readonly number[], maxBufferBytes: number): number[] {
  const [rows, ...rowShape] = shape;
  const bytes = 4 * shape.reduce((a, b) => a * b, 1);
  if (bytes <= maxBufferBytes || rows === undefined) return [0];
  const where = `parameter ${name} [${shape.join(', ')}]`;
  const limit = `this adapter's largest bindable buffer (maxStorageBufferBindingSize, ${maxBufferBytes} bytes)`;
  if (!ROW_BLOCKED_PARAMETERS.has(name) || rowShape.length === 0)
    throw new Error(
      `${where} is ${bytes} bytes, above ${limit}; only ${[...ROW_BLOCKED_PARAMETERS].join(' and ')} can be split into row blocks, so this model needs an adapter with a larger limit`,
    );
  const rowBytes = bytes / rows;
  const perBlock = Math.floor(maxBufferBytes / rowBytes);
  if (perBlock < 1) throw new Error(`${where}: one row (${rowBytes} bytes) is above ${limit}`);
  return Array.from({ length: Math.ceil(rows / perBlock) }, (_, b) => b * perBlock);
}

/**
 * The blocks of each parameter in `tensors` (name → shape and anything else), each block's first row, in row
 * order; a parameter held whole is one block at row 0 under its own name. Throws unless each parameter's blocks
 * are one whole tensor or blocks that tile its rows exactly, with the same row shape.
 */
export function groupRowBlocks<T extends { shape: readonly number[] }>(
  tensors: Record<string, T>,
): Map<string, { name: string; start: number; tensor: T }[]> {
  const groups = new Map<string, { name: string; start: number; tensor: T }[]>();
  for (const [name, tensor] of Object.entries(tensors)) {
    const block = parseRowBlock(name);
    const key = block?.name ?? name;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push({ name, start: block?.start ?? 0, tensor });
  }
  for (const [name, blocks] of groups) {
    blocks.sort((a, b) => a.start - b.start);
    if (blocks.length === 1 && blocks[0]!.name === name) continue;
    if (blocks.some((b) => b.name === name))
      throw new Error(`parameter ${name} is given both whole and as row blocks (${MARK}<row>)`);
    if (!ROW_BLOCKED_PARAMETERS.has(name))
      throw new Error(
        `parameter ${name} is given as row blocks; only ${[...ROW_BLOCKED_PARAMETERS].join(' and ')} can be`,
      );
    let next = 0;
    const rowShape = blocks[0]!.tensor.shape.slice(1).join();
    for (const b of blocks) {
      if (b.start !== next || b.tensor.shape.length < 2 || b.tensor.shape.slice(1).join() !== rowShape)
        throw new Error(
          `parameter ${name}: row block ${b.name} [${b.tensor.shape.join(', ')}] does not continue the blocks before it (expected its first row to be ${next}, rows of shape [${rowShape}])`,
        );
      next += b.tensor.shape[0]!;
    }
  }
  return groups;
}

/** The shape a parameter held in `blocks` has whole. */
export function joinedShape(blocks: readonly { tensor: { shape: readonly number[] } }[]): number[] {
  const rows = blocks.reduce((n, b) => n + b.tensor.shape[0]!, 0);
  return [rows, ...blocks[0]!.tensor.shape.slice(1)];
}
