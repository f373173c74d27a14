/**
 * What the training loop (./loop.ts) needs from a model and from its data. The loop knows nothing about
 * style transfer: a feed-forward transformer net with a perceptual loss (./feed-forward.ts) and an AdaIN
 * decoder with its content/style loss implement the same two interfaces and share the loop, validation,
 * early stopping, checkpoints, resume, progress reporting and the loss curve.
 */
import type { Tensor } from '../../gpu/tensor.ts';
import type { HostTensorMap } from '../weights/host-tensor.ts';

/** The loss of one batch: the scalar to minimise and its named parts (each a one-element tensor). */
export interface LossResult {
  total: Tensor;
  /** Weighted parts of `total` (e.g. content, style, tv), reported and plotted; may be empty. */
  terms: Record<string, Tensor>;
}

/** Where a loss evaluation happens in the run. */
export interface LossContext {
  /** The 1-based training iteration (for validation: the iteration validated after). */
  iteration: number;
  phase: 'train' | 'validation';
  /**
   * A seed for randomness inside the model (dropout masks), derived from the run's seed and the
   * iteration, so that a resumed run draws exactly the same masks as an uninterrupted one.
   */
  seed: number;
}

/**
 * A model the loop can train. `B` is whatever the data source yields (host memory: the model uploads
 * it inside `loss`, so the upload is freed with the step's other intermediates).
 */
export interface TrainableModel<B> {
  /** The tensors Adam updates, always in the same order (the checkpointed moments follow it). */
  params(): Tensor[];
  /**
   * The loss of a batch. Called on a tape in training mode (gradients for `params()`), and under
   * noGrad in eval mode for validation. Everything it creates except the result is freed by the caller.
   */
  loss(batch: B, context: LossContext): LossResult;
  /** Training mode (batch statistics, dropout) or eval mode (running statistics, no dropout). */
  setTraining(training: boolean): void;
  /** Every tensor needed to restore the model exactly (trainable or not, e.g. running statistics). */
  saveState(): Promise<HostTensorMap>;
  /** Replaces the model's state with one from saveState(); params() may return new tensors after it. */
  loadState(state: HostTensorMap): void;
  /** Strings that describe the model (architecture, norm, …): stored in checkpoints and exports. */
  describe(): Record<string, string>;
}

/** JSON-serialisable state. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** An endless, seeded stream of training batches whose position can be saved and restored. */
export interface BatchSource<B> {
  next(): Promise<B>;
  /** How many samples a batch holds (for images/second). */
  readonly batchSize: number;
  saveState(): JsonValue;
  restoreState(state: JsonValue): void;
}

/** Returns the validation loss of the model as it is now (the loop puts it in eval mode first). */
export type Validator<B> = (model: TrainableModel<B>, iteration: number) => Promise<number>;
