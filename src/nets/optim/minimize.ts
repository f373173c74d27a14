import { unary } from '../../gpu/kernels/elementwise.ts';
import type { Tensor } from '../../gpu/tensor.ts';
import { Adam } from './adam.ts';
import { Lbfgs } from './lbfgs.ts';
import { readWithReport, type Objective, type OptimStep, type StopReason } from './objective.ts';
import { PlateauDetector } from './plateau.ts';

export interface MinimizeOptions {
  optimizer?: 'lbfgs' | 'adam';
  maxIterations: number;
  /** Stop after this many iterations without a relative improvement of `tolerance` (0: never). */
  patience?: number;
  tolerance?: number;
  /** Adam learning rate, or L-BFGS's first trial step (1 = the full quasi-Newton step). */
  learningRate?: number;
  /** L-BFGS: mean absolute change per element of the first step (see LbfgsOptions.firstStepSize). */
  firstStepSize?: number;
  historySize?: number;
  /** Checked between iterations; return true to stop early (keeps the best result). */
  shouldStop?: () => boolean;
}

export interface MinimizeProgress extends OptimStep {
  /** The current iterate; valid until the next iteration (copy it to keep it). */
  x: Tensor;
}

export interface MinimizeResult {
  /** The best iterate seen (owned by the caller). */
  best: Tensor;
  bestLoss: number;
  iterations: number;
  reason: StopReason;
  /** The loss at x0 (NaN when never evaluated); `bestLoss < startLoss` means the run improved on x0. */
  startLoss: number;
  /** With reason 'diverged': the iteration whose loss was not finite, and that loss (NaN or ±Infinity). */
  divergence?: { iteration: number; loss: number };
}

/**
 * Runs an optimiser on `objective` from `x0`, yielding progress after every iteration, and stopping on
 * max iterations, a plateau, a request, or a NaN or infinite loss ('diverged', read at the progress
 * readback the optimiser already does). The best iterate seen is what it returns, not the last.
 */
export async function* minimize(x0: Tensor, objective: Objective, options: MinimizeOptions): AsyncGenerator<MinimizeProgress, MinimizeResult> {
  const plateau = new PlateauDetector(options.patience ?? 0, options.tolerance ?? 1e-4);
  let best = unary('copy', x0);
  let bestLoss = Infinity;
  let reason: StopReason = 'max-iterations';
  let iteration = 0;
  let startLoss = NaN;
  let divergence: MinimizeResult['divergence'];
  const keepBest = (x: Tensor, loss: number) => {
    if (plateau.update(loss)) {
      best.dispose();
      best = unary('copy', x);
      bestLoss = loss;
    }
  };

  /** Why to stop after an iteration that made progress: a plateau or the caller's request. */
  const stopReason = (): StopReason | null => (plateau.exhausted ? 'plateau' : options.shouldStop?.() ? 'stopped' : null);

  // A caller that stops iterating early (return()) never receives `best`: free it then.
  let completed = false;
  try {
    if ((options.optimizer ?? 'lbfgs') === 'lbfgs') {
      const lbfgs = new Lbfgs(x0, objective, {
        learningRate: options.learningRate ?? 1,
        historySize: options.historySize ?? 10,
        ...(options.firstStepSize !== undefined ? { firstStepSize: options.firstStepSize } : {}),
      });
      try {
        for (iteration = 1; iteration <= options.maxIterations; iteration++) {
          const step = await lbfgs.step();
          startLoss = lbfgs.startLoss;
          const nonFinite = step.nonFiniteLoss ?? (Number.isFinite(step.loss) ? undefined : step.loss);
          if (nonFinite !== undefined) {
            reason = 'diverged';
            divergence = { iteration, loss: nonFinite };
            break;
          }
          keepBest(lbfgs.x, step.loss);
          yield { iteration, loss: step.loss, evaluations: step.evaluations, report: step.report, x: lbfgs.x };
          if (!step.progressed) {
            reason = 'converged';
            break;
          }
          const stop = stopReason();
          if (stop) {
            reason = stop;
            break;
          }
        }
      } finally {
        lbfgs.dispose();
      }
    } else {
      const x = unary('copy', x0);
      const adam = new Adam([x], { lr: options.learningRate ?? 1e-2 });
      try {
        for (iteration = 1; iteration <= options.maxIterations; iteration++) {
          const { loss, grad, report } = objective(x);
          // The loss is that of x before this update: remember x first if it is the best so far.
          const read = await readWithReport([loss], report);
          loss.dispose();
          const value = read.scalars[0]!;
          if (iteration === 1) startLoss = value;
          if (!Number.isFinite(value)) {
            grad.dispose();
            reason = 'diverged';
            divergence = { iteration, loss: value };
            break;
          }
          keepBest(x, value);
          adam.step([grad]);
          grad.dispose();
          yield { iteration, loss: value, evaluations: iteration, report: read.report, x };
          const stop = stopReason();
          if (stop) {
            reason = stop;
            break;
          }
        }
      } finally {
        adam.dispose();
        x.dispose();
      }
    }
    completed = true;
    return { best, bestLoss, iterations: Math.min(iteration, options.maxIterations), reason, startLoss, ...(divergence ? { divergence } : {}) };
  } finally {
    if (!completed) best.dispose();
  }
}
