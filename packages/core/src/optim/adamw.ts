/**
 * @file AdamW with decoupled weight decay, a per-parameter no-decay set, optional global-norm gradient
 * clipping and a learning-rate schedule. One fused in-place kernel per parameter; clipping multiplies the
 * gradient inside that kernel by a scale computed on the device, so a step needs no readback.
 */
import { noGrad } from '../autograd/graph.ts';
import { keep, tidy } from '../scope.ts';
import type { Tensor } from '../tensor.ts';
import { type Schedule, constantSchedule } from './schedule.ts';

export interface AdamWOptions {
  /** A learning rate or a schedule of the 1-based step number. */
  lr: number | Schedule;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  /** Parameters exempt from weight decay (biases, norms, embeddings by convention). */
  noDecay?: Iterable<Tensor>;
  /** Clip gradients so that their global L2 norm is at most this. */
  maxGradNorm?: number;
}

/** √(Σ‖g‖²) over the parameters' gradients, as a 1-element tensor (no readback). */
export function globalGradNorm(params: readonly Tensor[]): Tensor {
  return noGrad(() =>
    tidy(() => {
      const squares = params.filter((p) => p.grad).map((p) => p.grad!.mul(p.grad!).sum());
      if (squares.length === 0) throw new Error('globalGradNorm: no parameter has a gradient');
      return squares
        .reduce((a, b) => a.add(b))
        .sqrt()
        .reshape([1]);
    }),
  );
}

/** What a checkpoint stores of the optimizer. */
export interface AdamWState {
  step: number;
  moments: ({ m: Float32Array; v: Float32Array } | null)[];
}

export class AdamW {
  readonly params: Tensor[];
  readonly #schedule: Schedule;
  readonly #betas: [number, number];
  readonly #eps: number;
  readonly #weightDecay: number;
  readonly #noDecay: Set<Tensor>;
  readonly #maxGradNorm: number | undefined;
  readonly #state = new Map<Tensor, { m: Tensor; v: Tensor }>();
  #step = 0;
  /** The norm measured by the last step with clipping (1-element tensor), for logging. */
  lastGradNorm: Tensor | null = null;

  constructor(params: Tensor[], options: AdamWOptions) {
    this.params = params;
    this.#schedule = typeof options.lr === 'number' ? constantSchedule(options.lr) : options.lr;
    this.#betas = options.betas ?? [0.9, 0.999];
    this.#eps = options.eps ?? 1e-8;
    this.#weightDecay = options.weightDecay ?? 0.01;
    this.#noDecay = new Set(options.noDecay ?? []);
    this.#maxGradNorm = options.maxGradNorm;
    for (const p of params) {
      if (p.dtype !== 'f32' || !p.requiresGrad)
        throw new Error(`AdamW: ${p} must be an f32 tensor that requires grad`);
    }
  }

  get stepCount(): number {
    return this.#step;
  }

  /** The learning rate the next step will use. */
  get lr(): number {
    return this.#schedule(this.#step + 1);
  }

  step(): void {
    this.#step++;
    const lr = this.#schedule(this.#step);
    const [beta1, beta2] = this.#betas;
    noGrad(() => {
      const scale = keep(this.#gradScale());
      for (const p of this.params) {
        if (!p.grad) continue;
        let state = this.#state.get(p);
        if (!state) {
          state = { m: keep(p.device.zeros(p.shape)), v: keep(p.device.zeros(p.shape)) };
          this.#state.set(p, state);
        }
        const params = {
          size: p.size,
          lr,
          beta1,
          beta2,
          eps: this.#eps,
          weightDecay: this.#noDecay.has(p) ? 0 : this.#weightDecay,
          step: this.#step,
        };
        p.device.backend.runInPlace(
          'adamw',
          {
            param: p.storage,
            grad: p.grad.storage,
            m: state.m.storage,
            v: state.v.storage,
            scale: scale.storage,
          },
          params,
          'AdamW step',
        );
      }
      scale.dispose();
    });
  }

  /** 1, or min(1, maxGradNorm / (norm + 1e-6)) computed on the device. */
  #gradScale(): Tensor {
    const device = this.params[0]!.device;
    if (this.#maxGradNorm === undefined) return device.ones([1]);
    this.lastGradNorm?.dispose();
    const norm = keep(globalGradNorm(this.params));
    this.lastGradNorm = norm;
    return tidy(() => norm.add(1e-6).div(this.#maxGradNorm!).maximum(1).reshape([1]).pow(-1));
  }

  /** The step count and each parameter's moments (null before its first step), copied to the host. */
  async exportState(): Promise<AdamWState> {
    const moments = await Promise.all(
      this.params.map(async (p) => {
        const st = this.#state.get(p);
        if (!st) return null;
        return { m: Float32Array.from(await st.m.hostData()), v: Float32Array.from(await st.v.hostData()) };
      }),
    );
    return { step: this.#step, moments };
  }

  /** Restores `exportState()`'s result (same parameters, same order), so training resumes where it stopped. */
  loadState(state: AdamWState): void {
    if (state.moments.length !== this.params.length)
      throw new Error(
        `AdamW.loadState: the state has ${state.moments.length} parameters, the optimizer ${this.params.length}`,
      );
    this.dispose();
    this.#step = state.step;
    state.moments.forEach((mv, i) => {
      if (!mv) return;
      const p = this.params[i]!;
      if (mv.m.length !== p.size || mv.v.length !== p.size)
        throw new Error(
          `AdamW.loadState: moments of parameter ${i} have ${mv.m.length} values, ${p} has ${p.size}`,
        );
      this.#state.set(p, {
        m: keep(p.device.tensor(mv.m, p.shape)),
        v: keep(p.device.tensor(mv.v, p.shape)),
      });
    });
  }

  zeroGrad(): void {
    for (const p of this.params) p.zeroGrad();
  }

  dispose(): void {
    for (const { m, v } of this.#state.values()) {
      m.dispose();
      v.dispose();
    }
    this.#state.clear();
    this.lastGradNorm?.dispose();
    this.lastGradNorm = null;
  }
}
