/**
 * @file Rotary position embedding in one pass: each pair of a head's coordinates (first, second) rotates by its
 * angle at the row's position, y_first = x_first·cos − x_second·sin and y_second = x_second·cos + x_first·sin,
 * reading cos and sin from [positions, dim] tables at the row's position. With `adjoint` it applies the
 * transpose, the backward pass: dx_i = g_i·cos_i − s_i·g_p·sin_p for column i, its partner p and s_i = −1 for a
 * pair's first column (+1 for its second); with the tables of real angles (both columns of a pair share one) that
 * is the inverse rotation.
 * Pairs: 'half' = (i, i + d/2) within each head of d = headDim columns, 'interleaved' = (2i, 2i + 1).
 */
import { defineKernel } from './kernel.ts';
import { WORKGROUP_1D, grid1d, gridIndexFn } from './wgsl.ts';

export interface RotaryParams {
  /** Rows of x (one position each). */
  rows: number;
  /** Columns of x: heads side by side. */
  dim: number;
  headDim: number;
  /** Rows of the cos and sin tables (positions 0..tableRows − 1). */
  tableRows: number;
  pairing: 'half' | 'interleaved';
  /** Apply the transpose (the backward pass). */
  adjoint: boolean;
}

/** Column c's partner in its pair and the sign of the partner's term: −1 for a pair's first column. */
function partnerOf(c: number, p: RotaryParams): [number, number] {
  const j = c % p.headDim;
  if (p.pairing === 'half') {
    const half = p.headDim / 2;
    return j < half ? [c + half, -1] : [c - half, 1];
  }
  return j % 2 === 0 ? [c + 1, -1] : [c - 1, 1];
}

export const rotary = defineKernel<RotaryParams>()({
  name: 'rotary',
  inputs: [
    { name: 'xs', dtype: 'f32', size: (p) => p.rows * p.dim },
    { name: 'pos', dtype: 'i32', size: (p) => p.rows },
    { name: 'cosT', dtype: 'f32', size: (p) => p.tableRows * p.dim },
    { name: 'sinT', dtype: 'f32', size: (p) => p.tableRows * p.dim },
  ],
  output: { size: (p) => p.rows * p.dim, dtype: 'f32' },
  uniforms: { size: 'u32', rowStride: 'u32', dim: 'u32', headDim: 'u32', tableRows: 'u32' },
  validate: (p) => {
    if (p.headDim < 2 || p.headDim % 2 !== 0 || p.dim % p.headDim !== 0)
      throw new Error(`rotary: headDim must be even and divide dim, got headDim ${p.headDim}, dim ${p.dim}`);
  },
  cpu: ({ xs: x, pos, cosT, sinT }, p, out) => {
    for (let r = 0; r < p.rows; r++) {
      const at = pos![r]!;
      if (!(at >= 0 && at < p.tableRows))
        throw new Error(`rotary: position ${at} of row ${r} is outside the tables' ${p.tableRows} rows`);
      for (let c = 0; c < p.dim; c++) {
        const [partner, s] = partnerOf(c, p);
        const t = at * p.dim;
        const other = x![r * p.dim + partner]!;
        const turn = p.adjoint ? -s * other * sinT![t + partner]! : s * other * sinT![t + c]!;
        out[r * p.dim + c] = x![r * p.dim + c]! * cosT![t + c]! + turn;
      }
    }
  },
  gpu: (p, _inputs, target) => {
    const n = p.rows * p.dim;
    const grid = grid1d(n, target.maxWorkgroupsPerDimension);
    // pc: the partner's column.
    const partner =
      p.pairing === 'half'
        ? `let half = params.headDim / 2u;
  let first = j < half;
  let pc = select(c - half, c + half, first);`
        : `let first = j % 2u == 0u;
  let pc = select(c - 1u, c + 1u, first);`;
    return {
      key: `rotary:${p.pairing}:${p.adjoint ? 'adjoint' : 'forward'}`,
      workgroups: grid.workgroups,
      uniforms: {
        size: n,
        rowStride: grid.rowStride,
        dim: p.dim,
        headDim: p.headDim,
        tableRows: p.tableRows,
      },
      wgsl: () => `${gridIndexFn}
@compute @workgroup_size(${WORKGROUP_1D})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gridIndex(gid, params.rowStride);
  if (i >= params.size) { return; }
  let c = i % params.dim;
  let j = c % params.headDim;
  ${partner}
  let row = min(u32(max(pos[i / params.dim], 0)), params.tableRows - 1u) * params.dim;
  let s = select(1.0, -1.0, first);
  let other = xs[i - c + pc];
  out[i] = xs[i] * cosT[row + c] ${p.adjoint ? '- s * other * sinT[row + pc]' : '+ s * other * sinT[row + c]'};
}`,
    };
  },
  // Two f32 products and a sum: a few ulps of the larger term.
  tolerance: () => ({ rtol: 1e-5, atol: 1e-6 }),
  describe: (p) =>
    `rotary(${p.rows} rows of ${p.dim}, heads of ${p.headDim}, ${p.pairing}${p.adjoint ? ', adjoint' : ''})`,
});
