/**
 * Early stopping on a plateau: stops once the best value has not improved by more than a relative
 * `tolerance` for `patience` consecutive updates. Also remembers which update was best, so callers
 * can keep the best result rather than the last.
 */
export class PlateauDetector {
  best = Infinity;
  bestIndex = -1;
  private sinceImprovement = 0;
  private index = -1;

  constructor(
    readonly patience: number,
    readonly tolerance: number,
  ) {}

  /** Records a value; returns true when it is a new best. */
  update(value: number): boolean {
    this.index++;
    if (!Number.isFinite(value)) {
      this.sinceImprovement++;
      return false;
    }
    const improved = value < this.best - this.tolerance * Math.abs(this.best === Infinity ? value : this.best);
    if (improved || this.bestIndex < 0) {
      this.best = value;
      this.bestIndex = this.index;
      this.sinceImprovement = 0;
      return true;
    }
    if (value < this.best) {
      // Better, but by less than the tolerance: keep it as the best without resetting patience.
      this.best = value;
      this.bestIndex = this.index;
      this.sinceImprovement++;
      return true;
    }
    this.sinceImprovement++;
    return false;
  }

  get exhausted(): boolean {
    return this.patience > 0 && this.sinceImprovement >= this.patience;
  }

  /** Restores a saved state (for resumable training). */
  static restore(state: PlateauState): PlateauDetector {
    const d = new PlateauDetector(state.patience, state.tolerance);
    d.best = state.best;
    d.bestIndex = state.bestIndex;
    d.sinceImprovement = state.sinceImprovement;
    d.index = state.index;
    return d;
  }

  save(): PlateauState {
    return { patience: this.patience, tolerance: this.tolerance, best: this.best, bestIndex: this.bestIndex, sinceImprovement: this.sinceImprovement, index: this.index };
  }
}

export interface PlateauState {
  patience: number;
  tolerance: number;
  best: number;
  bestIndex: number;
  sinceImprovement: number;
  index: number;
}
