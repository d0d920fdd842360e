/**
 * @file Moving tensors between HF's layout and the project's, as `RoleTensor`s describe it (names.ts): transpose
 * nn.Linear matrices, cut GPT-2's fused q/k/v apart on import and join them again on export.
 */
import { type HostTensor, hostTensor } from '../io/safetensors.ts';
import type { RoleTensor } from './names.ts';

const fmtShape = (shape: readonly number[]) => `[${shape.join(', ')}]`;

function transpose2d(t: HostTensor): HostTensor {
  const [rows, cols] = t.shape;
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = t.data[r * cols + c];
  return hostTensor([cols, rows], out);
}

/** Piece `index` of `of` equal pieces of `t` along its last axis. */
function lastAxisPart(t: HostTensor, index: number, of: number): HostTensor {
  const width = t.shape[t.shape.length - 1];
  const piece = width / of;
  const rows = t.data.length / width;
  const out = new Float32Array(rows * piece);
  for (let r = 0; r < rows; r++)
    out.set(t.data.subarray(r * width + index * piece, r * width + (index + 1) * piece), r * piece);
  return hostTensor([...t.shape.slice(0, -1), piece], out);
}

/** `parts` side by side along the last axis (all of the same shape). */
function joinLastAxis(parts: HostTensor[]): HostTensor {
  const shape = parts[0].shape;
  const piece = shape[shape.length - 1];
  const rows = parts[0].data.length / piece;
  const width = piece * parts.length;
  const out = new Float32Array(rows * width);
  parts.forEach((p, i) => {
    for (let r = 0; r < rows; r++)
      out.set(p.data.subarray(r * piece, (r + 1) * piece), r * width + i * piece);
  });
  return hostTensor([...shape.slice(0, -1), width], out);
}

const sameShape = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

function expectF32(t: HostTensor | undefined, name: string, shape: number[], what: string): HostTensor {
  if (t === undefined) throw new Error(`${what}: tensor '${name}' is missing`);
  if (!(t.data instanceof Float32Array))
    throw new Error(`${what}: tensor '${name}' must be F32, found ${t.dtype}`);
  if (!sameShape(t.shape, shape))
    throw new Error(
      `${what}: tensor '${name}' must have shape ${fmtShape(shape)}, found ${fmtShape(t.shape)}`,
    );
  return t;
}

/** The project's tensors by role from HF tensors by name (already checked against `roles` by matchHfTensors). */
export function rolesFromHf(roles: RoleTensor[], hf: Record<string, HostTensor>): Record<string, HostTensor> {
  const out: Record<string, HostTensor> = {};
  for (const r of roles) {
    let t = expectF32(hf[r.hf.name], r.hf.name, r.hf.shape, 'import');
    if (r.hf.transpose) t = transpose2d(t);
    if (r.hf.part) t = lastAxisPart(t, r.hf.part.index, r.hf.part.of);
    out[r.role] = t;
  }
  return out;
}

/** HF tensors by name from the project's tensors by role (every role of `roles` must be given), for export. */
export function hfFromRoles(
  roles: RoleTensor[],
  byRole: Record<string, HostTensor>,
): Record<string, HostTensor> {
  const groups = new Map<string, RoleTensor[]>();
  for (const r of roles) groups.set(r.hf.name, [...(groups.get(r.hf.name) ?? []), r]);
  const out: Record<string, HostTensor> = {};
  for (const [name, members] of groups) {
    const parts = members
      .sort((a, b) => (a.hf.part?.index ?? 0) - (b.hf.part?.index ?? 0))
      .map((r) => expectF32(byRole[r.role], r.role, r.shape, 'export'));
    let t = parts.length > 1 ? joinLastAxis(parts) : parts[0];
    if (members[0].hf.transpose) t = transpose2d(t);
    out[name] = t;
  }
  return out;
}
