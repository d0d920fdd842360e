/**
 * @file Plain SGD with optional momentum, for tests and small examples (AdamW comes with the transformer kernels).
 */
import { noGrad } from '../autograd/graph.ts';
import { keep, tidy } from '../scope.ts';
import type { Tensor } from '../tensor.ts';

export class SGD {
  readonly params: Tensor[];
  readonly lr: number;
  readonly momentum: number;
  #velocity = new Map<Tensor, Tensor>();

  constructor(params: Tensor[], options: { lr: number; momentum?: number }) {
    this.params = params;
    this.lr = options.lr;
    this.momentum = options.momentum ?? 0;
  }

  /** p ← p − lr·v, v ← momentum·v + grad. Parameters keep their identity (their storage is replaced). */
  step(): void {
    noGrad(() =>
      tidy(() => {
        for (const p of this.params) {
          if (!p.grad) continue;
          let update = p.grad;
          if (this.momentum > 0) {
            const old = this.#velocity.get(p);
            const v = keep(old ? old.mul(this.momentum).add(p.grad) : p.grad.mul(1));
            old?.dispose();
            this.#velocity.set(p, v);
            update = v;
          }
          p.assign(p.sub(update.mul(this.lr)));
        }
      }),
    );
  }

  zeroGrad(): void {
    for (const p of this.params) p.zeroGrad();
  }

  dispose(): void {
    for (const v of this.#velocity.values()) v.dispose();
    this.#velocity.clear();
  }
}
