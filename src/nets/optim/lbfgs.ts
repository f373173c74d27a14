import { binary, fill, unary } from '../../gpu/kernels/elementwise.ts';
import { axpyInPlace, dot, guardedRatio } from '../../gpu/kernels/optim.ts';
import { reduce } from '../../gpu/kernels/reduce.ts';
import type { Tensor } from '../../gpu/tensor.ts';
import { readWithReport, type Objective } from './objective.ts';

export interface LbfgsOptions {
  /** Curvature pairs kept (m). */
  historySize?: number;
  /** First trial step along the search direction (1 = the full quasi-Newton step). */
  learningRate?: number;
  /**
   * Size of the first step (and of a step after a restart), before any curvature is known: the mean
   * absolute change per element, in the variable's units (e.g. 10 for an image in 0..255). Without
   * it the problem's scale is unknown: the first step starts at L1 length 1 and the line search
   * doubles it while the loss keeps falling, so a badly scaled problem costs a few evaluations, once.
   */
  firstStepSize?: number;
  /** Doublings the first step may take when `firstStepSize` is not given. */
  maxExpansions?: number;
  /** Halvings tried by the backtracking line search before giving up. */
  maxLineSearchSteps?: number;
  /** Sufficient-decrease (Armijo) constant. */
  c1?: number;
}

export interface LbfgsStepResult {
  loss: number;
  evaluations: number;
  /** false when the line search found no decrease: converged, or the problem is ill-posed here. */
  progressed: boolean;
  /** The objective's report at the current iterate (null when it gives none). */
  report: Float32Array | null;
  /**
   * Set when the step found no decrease and met a NaN or infinite loss on the way (at the current
   * iterate or a trial point): the first such value. The step sizes are then far too large.
   */
  nonFiniteLoss?: number;
}

interface TrialPoint {
  x: Tensor;
  grad: Tensor;
  loss: number;
  report: Float32Array | null;
  t: number;
}

interface CurvaturePair {
  s: Tensor;
  y: Tensor;
  /** 1/(y·s), or 0 for a pair that carries no curvature (then it contributes nothing). */
  rho: Tensor;
}

/**
 * Limited-memory BFGS with a backtracking (Armijo) line search. Every vector and every coefficient
 * of the two-loop recursion stays on the GPU; a step reads back one small vector per function
 * evaluation (the trial loss and the directional derivative), usually once per iteration.
 * The optimiser owns `x`, its current iterate (a copy of the starting point).
 */
export class Lbfgs {
  x: Tensor;
  private grad: Tensor | null = null;
  private loss = NaN;
  private report: Float32Array | null = null;
  /** The loss at the starting point (NaN before the first step). */
  startLoss = NaN;
  private history: CurvaturePair[] = [];
  /** Initial inverse-Hessian scale γ = s·y / y·y of the newest pair, on the GPU. */
  private hessianScale: Tensor;
  private readonly one: Tensor;
  private readonly zero: Tensor;
  private readonly options: Required<Omit<LbfgsOptions, 'firstStepSize'>> & Pick<LbfgsOptions, 'firstStepSize'>;
  evaluations = 0;

  constructor(
    x0: Tensor,
    private readonly objective: Objective,
    options: LbfgsOptions = {},
  ) {
    if (options.firstStepSize !== undefined && !(options.firstStepSize > 0)) throw new Error(`lbfgs: firstStepSize must be > 0, got ${options.firstStepSize}`);
    this.options = { historySize: 10, learningRate: 1, maxLineSearchSteps: 12, maxExpansions: 20, c1: 1e-4, ...options };
    this.x = unary('copy', x0);
    this.one = fill(x0.runtime, [1], 1);
    this.zero = fill(x0.runtime, [1], 0);
    this.hessianScale = fill(x0.runtime, [1], 1);
  }

  /** The objective at x; `scalars(loss)` are read back with the loss's report in one transfer. */
  private async evaluate(x: Tensor, scalars: (loss: Tensor) => Tensor[]): Promise<{ values: number[]; report: Float32Array | null; grad: Tensor }> {
    this.evaluations++;
    const { loss, grad, report } = this.objective(x);
    const read = await readWithReport(scalars(loss), report);
    loss.dispose();
    return { values: read.scalars, report: read.report, grad };
  }

  /** The search direction −H·g from the two-loop recursion (steepest descent without history). */
  private direction(g: Tensor): Tensor {
    const q = unary('neg', g);
    if (this.history.length === 0) {
      // Steepest descent: mean |step| = firstStepSize, or (scale unknown) L1 length at most 1.
      const absG = unary('abs', g);
      const l1 = reduce('sum', absG, undefined, { keepDims: true });
      absG.dispose();
      const l1Scalar = this.x.runtime.reshape(l1, [1]);
      l1.dispose();
      const size = this.options.firstStepSize;
      // n·size/|g|₁, or min(1, 1/|g|₁) (a zero gradient gives a zero direction either way)
      const scale = size === undefined ? guardedRatio(this.one, l1Scalar, l1Scalar, this.one, 1) : guardedRatio(this.one, l1Scalar, l1Scalar, this.one, 0, size * g.size);
      l1Scalar.dispose();
      const d = binary('mul', q, scale);
      q.dispose();
      scale.dispose();
      return d;
    }
    const alphas: Tensor[] = [];
    for (let i = this.history.length - 1; i >= 0; i--) {
      const { s, y, rho } = this.history[i]!;
      const sq = dot(s, q);
      const alpha = binary('mul', rho, sq);
      sq.dispose();
      axpyInPlace(q, y, -1, alpha);
      alphas[i] = alpha;
    }
    const r = binary('mul', q, this.hessianScale);
    q.dispose();
    for (let i = 0; i < this.history.length; i++) {
      const { s, y, rho } = this.history[i]!;
      const yr = dot(y, r);
      const beta = binary('mul', rho, yr);
      const coef = binary('sub', alphas[i]!, beta);
      axpyInPlace(r, s, 1, coef);
      for (const t of [yr, beta, coef, alphas[i]!]) t.dispose();
    }
    return r;
  }

  private resetHistory(): void {
    for (const p of this.history) for (const t of [p.s, p.y, p.rho]) t.dispose();
    this.history = [];
    this.hessianScale.dispose();
    this.hessianScale = fill(this.x.runtime, [1], 1);
  }

  /** One iteration: direction, line search, history update. */
  async step(): Promise<LbfgsStepResult> {
    if (!this.grad) {
      const { values, report, grad } = await this.evaluate(this.x, (loss) => [loss]);
      this.loss = values[0]!;
      this.startLoss = this.loss;
      this.report = report;
      this.grad = grad;
    }
    let nonFiniteLoss = Number.isFinite(this.loss) ? undefined : this.loss;
    const g = this.grad;
    let d = this.direction(g);
    let gtd = dot(g, d);
    let t = this.options.learningRate;
    for (let attempt = 0; attempt < this.options.maxLineSearchSteps; attempt++) {
      const trial = unary('copy', this.x);
      axpyInPlace(trial, d, t);
      const { values, report, grad } = await this.evaluate(trial, (loss) => [loss, gtd]);
      const [newLoss, slope] = values;
      if (!Number.isFinite(newLoss)) nonFiniteLoss ??= newLoss;
      if (!(slope! < 0)) {
        // Not a descent direction (stale curvature): restart from steepest descent.
        for (const x of [trial, grad, d, gtd]) x.dispose();
        this.resetHistory();
        d = this.direction(g);
        gtd = dot(g, d);
        t = this.options.learningRate;
        continue;
      }
      if (Number.isFinite(newLoss) && newLoss! <= this.loss + this.options.c1 * t * slope!) {
        const unscaled = attempt === 0 && this.history.length === 0 && this.options.firstStepSize === undefined;
        const point = { x: trial, grad, loss: newLoss!, report, t };
        const best = unscaled ? await this.expand(point, d, slope!) : point;
        this.accept(best.x, best.grad, d, best.t);
        gtd.dispose();
        this.loss = best.loss;
        this.report = best.report;
        return { loss: best.loss, evaluations: this.evaluations, progressed: true, report: best.report };
      }
      trial.dispose();
      grad.dispose();
      t *= 0.5;
    }
    d.dispose();
    gtd.dispose();
    return { loss: this.loss, evaluations: this.evaluations, progressed: false, report: this.report, ...(nonFiniteLoss !== undefined ? { nonFiniteLoss } : {}) };
  }

  /**
   * A first step of unknown scale that was accepted at once may be far too short: double it while
   * the loss keeps falling (and the Armijo condition holds), and keep the best point.
   */
  private async expand(best: TrialPoint, d: Tensor, slope: number): Promise<TrialPoint> {
    for (let e = 0; e < this.options.maxExpansions; e++) {
      const t = best.t * 2;
      const x = unary('copy', this.x);
      axpyInPlace(x, d, t);
      const { values, report, grad } = await this.evaluate(x, (loss) => [loss]);
      const value = values[0]!;
      if (!(Number.isFinite(value) && value < best.loss && value <= this.loss + this.options.c1 * t * slope)) {
        x.dispose();
        grad.dispose();
        break;
      }
      best.x.dispose();
      best.grad.dispose();
      best = { x, grad, loss: value, report, t };
    }
    return best;
  }

  private accept(trial: Tensor, newGrad: Tensor, d: Tensor, t: number): void {
    const s = unary('affine', d, t, 0);
    d.dispose();
    const y = binary('sub', newGrad, this.grad!);
    const ys = dot(y, s);
    const yy = dot(y, y);
    const rho = guardedRatio(this.one, ys, ys, this.zero, 1e-10);
    const scale = guardedRatio(ys, yy, ys, this.hessianScale, 1e-10);
    this.hessianScale.dispose();
    this.hessianScale = scale;
    ys.dispose();
    yy.dispose();
    this.history.push({ s, y, rho });
    if (this.history.length > this.options.historySize) {
      const old = this.history.shift()!;
      for (const x of [old.s, old.y, old.rho]) x.dispose();
    }
    this.x.dispose();
    this.x = trial;
    this.grad!.dispose();
    this.grad = newGrad;
  }

  /** The loss at the current iterate (NaN before the first step). */
  get currentLoss(): number {
    return this.loss;
  }

  dispose(): void {
    this.resetHistory();
    for (const t of [this.x, this.grad, this.one, this.zero, this.hessianScale]) t?.dispose();
    this.grad = null;
  }
}
