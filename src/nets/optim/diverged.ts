/**
 * An optimisation stopped because its loss became NaN or infinite (reason 'diverged'): a failure,
 * never a result. It carries the best point kept before that, when it improved on the start, so a
 * caller can still save it.
 */
export class OptimizationDivergedError<Kept> extends Error {
  constructor(
    message: string,
    /** The iteration whose loss was not finite. */
    readonly iteration: number,
    /** That loss: NaN or ±Infinity. */
    readonly loss: number,
    /** The best point before it, or null when nothing better than the start was found. */
    readonly best: Kept | null,
  ) {
    super(message);
    this.name = 'OptimizationDivergedError';
  }
}
