import type { Tensor } from '../../gpu/tensor.ts';

/**
 * What an optimiser minimises: the loss (a one-element tensor) and its gradient at x, both left on
 * the GPU. The optimiser owns and disposes what it gets back.
 */
export type Objective = (x: Tensor) => { loss: Tensor; grad: Tensor };

/** One optimiser iteration, as reported to progress listeners. */
export interface OptimStep {
  iteration: number;
  loss: number;
  /** Function evaluations so far (L-BFGS line searches may take more than one per iteration). */
  evaluations: number;
}

export type StopReason = 'max-iterations' | 'plateau' | 'nan' | 'converged' | 'stopped';
