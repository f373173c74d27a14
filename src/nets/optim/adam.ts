import { fill } from '../../gpu/kernels/elementwise.ts';
import { adamStep } from '../../gpu/kernels/optim.ts';
import { formatShape, type Tensor } from '../../gpu/tensor.ts';

export interface AdamOptions {
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** L2 penalty added to the gradient (classic Adam weight decay, not AdamW). */
  weightDecay?: number;
}

/** Moments and step count: what `--resume` must restore to continue exactly. */
export interface AdamState {
  step: number;
  m: Tensor[];
  v: Tensor[];
}

/** Adam with a fused update kernel; parameters are updated in place on the GPU. */
export class Adam {
  readonly options: Required<AdamOptions>;
  private state: AdamState;

  constructor(
    readonly params: readonly Tensor[],
    options: AdamOptions = {},
  ) {
    this.options = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, ...options };
    this.state = {
      step: 0,
      m: params.map((p) => fill(p.runtime, p.shape, 0)),
      v: params.map((p) => fill(p.runtime, p.shape, 0)),
    };
  }

  get stepCount(): number {
    return this.state.step;
  }

  /** Applies one update from `grads` (one per parameter, same shapes). */
  step(grads: readonly Tensor[], lr = this.options.lr): void {
    if (grads.length !== this.params.length) throw new Error(`adam: got ${grads.length} gradients for ${this.params.length} parameters`);
    this.state.step++;
    this.params.forEach((p, i) => {
      const g = grads[i]!;
      if (g.size !== p.size) throw new Error(`adam: gradient ${formatShape(g.shape)} does not match parameter ${formatShape(p.shape)}`);
      adamStep(p, g, this.state.m[i]!, this.state.v[i]!, { ...this.options, lr, step: this.state.step });
    });
  }

  /** The moment tensors (owned by the optimiser) and the step count, for checkpoints. */
  exportState(): AdamState {
    return this.state;
  }

  /** Replaces the moments and step count (tensors are taken over). */
  importState(state: AdamState): void {
    state.m.forEach((t, i) => {
      if (t.size !== this.params[i]!.size) throw new Error(`adam: saved moment ${i} has shape ${formatShape(t.shape)}, parameter has ${formatShape(this.params[i]!.shape)}`);
    });
    this.dispose();
    this.state = state;
  }

  dispose(): void {
    for (const t of [...this.state.m, ...this.state.v]) t.dispose();
  }
}
