/**
 * The tuned kernel choices of one runtime (see autotune.ts for how they are measured). Kept apart
 * from the tuner so that the runtime can hold a table without depending on the code that times it.
 */

export interface AdapterIdentity {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
}

/** The cache key of an adapter; a driver update changes the description, so choices are re-tuned. */
export function adapterKey(info: AdapterIdentity): string {
  return [info.vendor, info.architecture, info.device, info.description].map((s) => s || '?').join(' | ');
}

/** One variant to time. `run` records one launch of it (it does not wait); its outputs are freed by the tuner. */
export interface TuneCandidate {
  id: string;
  run(): void;
}

/** Inputs of one shape and the variants that can process them. */
export interface TuneJob {
  candidates: TuneCandidate[];
  dispose(): void;
}

/** A shape a kernel launched while shapes were being captured. `prepare` is only called to tune it. */
export interface TuneRequest {
  family: string;
  shape: string;
  prepare(): TuneJob;
}

/** A tuned choice and the measurements behind it. */
export interface TunedChoice {
  choice: string;
  /** Median ms per run of every candidate measured (pruned ones: their single sample). */
  ms: Record<string, number>;
  clock: string;
  date: string;
}

const entryKey = (family: string, shape: string) => `${family}|${shape}`;

/** The tuned choices of one runtime's adapter, and the hook through which kernels report shapes. */
export class TuningTable {
  private readonly choices = new Map<string, TunedChoice>();
  private captured: Map<string, TuneRequest> | null = null;

  constructor(readonly adapter: string) {}

  /** The tuned variant for a shape class, if any (one map lookup: kernels call this per launch). */
  lookup(family: string, shape: string): string | undefined {
    return this.choices.get(entryKey(family, shape))?.choice;
  }

  get(family: string, shape: string): TunedChoice | undefined {
    return this.choices.get(entryKey(family, shape));
  }

  set(family: string, shape: string, choice: TunedChoice): void {
    this.choices.set(entryKey(family, shape), choice);
  }

  get size(): number {
    return this.choices.size;
  }

  /** Entries keyed `family|shape`, as persisted. */
  entries(): [string, TunedChoice][] {
    return [...this.choices];
  }

  clear(): void {
    this.choices.clear();
  }

  /** Whether kernels should report their shapes (only inside `captureShapes`). */
  get capturing(): boolean {
    return this.captured !== null;
  }

  /** Called by kernels that have variants; records the shape while capturing, else does nothing. */
  offer(family: string, shape: string, prepare: () => TuneJob): void {
    if (!this.captured) return;
    const key = entryKey(family, shape);
    if (!this.captured.has(key)) this.captured.set(key, { family, shape, prepare });
  }

  /** Runs `work` while recording every tunable shape the kernels launch; returns them in launch order. */
  async captureShapes(work: () => void | Promise<void>): Promise<TuneRequest[]> {
    if (this.captured) throw new Error('autotune: shapes are already being captured');
    const captured = new Map<string, TuneRequest>();
    this.captured = captured;
    try {
      await work();
    } finally {
      this.captured = null;
    }
    return [...captured.values()];
  }
}
