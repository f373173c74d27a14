/**
 * The training loop shared by every trained model: Adam on a TrainableModel fed by a BatchSource, with
 * validation every N iterations, early stopping on a validation plateau (keeping the BEST weights, not
 * the last), atomic checkpoints, and exact resume: a run resumed from a checkpoint computes the same
 * bits as one that never stopped (same batches, augmentation, dropout masks, Adam state, running
 * statistics, early-stopping state and history).
 */
import { valueAndGradOf } from '../../autograd/grad.ts';
import { noGrad } from '../../autograd/tape.ts';
import { packScalars } from '../../gpu/kernels/optim.ts';
import { keep, scope } from '../../gpu/scope.ts';
import type { Tensor } from '../../gpu/tensor.ts';
import { Adam, type AdamOptions } from '../optim/adam.ts';
import { PlateauDetector } from '../optim/plateau.ts';
import type { HostTensor, HostTensorMap } from '../weights/host-tensor.ts';
import { emptyHistory, writeCheckpoint, type TrainingCheckpoint, type TrainingHistory } from './node/checkpoint.ts';
import { mixSeed } from './node/dataset.ts';
import type { BatchSource, JsonValue, LossContext, TrainableModel, Validator } from './trainable.ts';

export interface IterationReport {
  iteration: number;
  /** The run's last iteration. */
  iterations: number;
  total: number;
  terms: Record<string, number>;
  /** Samples per second over this iteration (data loading included). */
  imagesPerSecond: number;
  seconds: number;
}

export interface ValidationReport {
  iteration: number;
  loss: number;
  improved: boolean;
  best: { iteration: number; loss: number } | null;
  /** Validations in a row without an improvement beyond the tolerance. */
  sinceImprovement: number;
}

export interface TrainOptions<B> {
  model: TrainableModel<B>;
  data: BatchSource<B>;
  /** The last iteration to run, counted from the start of the run (a resumed run continues up to it). */
  iterations: number;
  adam?: AdamOptions;
  /** Seeds the per-iteration randomness inside the model (LossContext.seed). */
  seed?: number;
  /** The validation loss; without it there is no early stopping and the final weights are the result. */
  validate?: Validator<B>;
  /** Validate every this many iterations (0: never). Default 500. */
  valEvery?: number;
  /** Stop after this many validations without improvement (0: never). Default 5. */
  patience?: number;
  /** Relative improvement a validation must make to reset the patience (default 0). */
  tolerance?: number;
  /** Where to write checkpoints (none when omitted). */
  checkpointPath?: string;
  /** Checkpoint every this many iterations (0: only when the run ends). Default 1000. */
  checkpointEvery?: number;
  /** Continue from this checkpoint (the model's and Adam's state are replaced by it). */
  resume?: TrainingCheckpoint;
  /** Stored in checkpoints unchanged (e.g. the command-line options, to resume with). */
  config?: JsonValue;
  onIteration?: (report: IterationReport) => void;
  onValidation?: (report: ValidationReport) => void;
  /** Called with the weights of each new best validation (e.g. to write the model file right away). */
  onBest?: (weights: HostTensorMap, best: { iteration: number; loss: number }) => Promise<void>;
  /** After each checkpoint is written (with the history so far, e.g. to redraw the loss curve). */
  onCheckpoint?: (path: string, iteration: number, history: TrainingHistory) => void | Promise<void>;
  /** Checked after every iteration: true ends the run there (a checkpoint is written), e.g. on Ctrl-C. */
  shouldStop?: () => boolean;
}

export type StopReason = 'iterations' | 'early-stop' | 'interrupted';

export interface TrainResult {
  /** The last iteration run. */
  iteration: number;
  stopReason: StopReason;
  /** The best validation, or null when there was none. */
  best: { iteration: number; loss: number } | null;
  /** The weights the run produced: the best validation's, or the final ones without validation. */
  weights: HostTensorMap;
  history: TrainingHistory;
  seconds: number;
}

export class TrainingDivergedError extends Error {}

async function tensorsToHost(tensors: readonly Tensor[]): Promise<HostTensor[]> {
  return Promise.all(tensors.map(async (t) => ({ shape: [...t.shape], data: await t.data() })));
}

function sameDescription(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((k) => a[k] === b[k]);
}

/**
 * A validator that averages the model's total loss over fixed batches (in eval mode, without
 * gradients), weighting each batch by `countOf(batch)` samples.
 */
export function lossValidator<B>(batches: readonly B[], countOf: (batch: B) => number): Validator<B> {
  if (batches.length === 0) throw new Error('lossValidator: no validation batches');
  return async (model, iteration) => {
    let sum = 0;
    let count = 0;
    for (const batch of batches) {
      const context: LossContext = { iteration, phase: 'validation', seed: 0 };
      const total = noGrad(() => scope(() => model.loss(batch, context).total));
      const value = await total.item();
      total.dispose();
      sum += value * countOf(batch);
      count += countOf(batch);
    }
    return sum / count;
  };
}

/** Trains `options.model`; resolves when the iterations are done or validation stops improving. */
export async function train<B>(options: TrainOptions<B>): Promise<TrainResult> {
  const { model, data } = options;
  const valEvery = options.valEvery ?? 500;
  const checkpointEvery = options.checkpointEvery ?? 1000;
  const seed = options.seed ?? 0;
  const validate = valEvery > 0 ? options.validate : undefined;
  for (const [name, v] of Object.entries({ iterations: options.iterations, valEvery, checkpointEvery })) {
    if (!Number.isInteger(v) || v < 0) throw new Error(`train: ${name} must be a non-negative integer, got ${v}`);
  }

  let startIteration = 0;
  let plateau = new PlateauDetector(options.patience ?? 5, options.tolerance ?? 0);
  let history = emptyHistory();
  let best: { iteration: number; loss: number } | null = null;
  let bestWeights: HostTensorMap | null = null;
  let secondsBefore = 0;
  const resume = options.resume;
  if (resume) {
    if (!sameDescription(resume.state.model, model.describe())) {
      throw new Error(`the checkpoint was written for a different model (${JSON.stringify(resume.state.model)}) than this one (${JSON.stringify(model.describe())})`);
    }
    model.loadState(resume.model);
    data.restoreState(resume.state.data);
    startIteration = resume.state.iteration;
    plateau = PlateauDetector.restore(resume.state.plateau);
    history = resume.state.history;
    best = resume.state.best;
    bestWeights = resume.best;
    secondsBefore = resume.state.seconds;
  }

  model.setTraining(true);
  const params = model.params();
  const adam = new Adam(params, options.adam);
  if (resume) {
    const { m, v } = resume.adam;
    if (m.length !== params.length) throw new Error(`the checkpoint has Adam moments for ${m.length} parameters, the model has ${params.length}`);
    const runtime = params[0]!.runtime;
    adam.importState({
      step: resume.state.adamStep,
      m: m.map((t) => runtime.upload(t.data, t.shape)),
      v: v.map((t) => runtime.upload(t.data, t.shape)),
    });
  }

  const started = performance.now();
  const elapsed = () => secondsBefore + (performance.now() - started) / 1000;
  let dataState = data.saveState();
  const fetch = () => {
    const p = data.next();
    p.catch(() => undefined); // rejections surface where the batch is awaited
    return p;
  };
  let pending = startIteration < options.iterations ? fetch() : null;
  let iteration = startIteration;
  let stopReason: StopReason = 'iterations';
  let lastTime = performance.now();

  let lastCheckpoint = 0;
  /** A NaN or infinite loss (training or validation) ends the run: nothing after it is worth keeping. */
  const diverged = (what: string, value: number) => {
    const kept = options.checkpointPath && lastCheckpoint > 0 ? `; the checkpoint of iteration ${lastCheckpoint} in ${options.checkpointPath} is kept` : '';
    return new TrainingDivergedError(`the ${what} became ${value} at iteration ${iteration}; lower the learning rate or the loss weights${kept}`);
  };

  const checkpoint = async (at: number) => {
    if (!options.checkpointPath) return;
    const state = adam.exportState();
    const [m, v, modelState] = await Promise.all([tensorsToHost(state.m), tensorsToHost(state.v), model.saveState()]);
    await writeCheckpoint(options.checkpointPath, {
      state: { iteration: at, adamStep: state.step, data: dataState, plateau: plateau.save(), best, history, model: model.describe(), config: options.config ?? null, seconds: elapsed() },
      model: modelState,
      best: bestWeights,
      adam: { m, v },
    });
    lastCheckpoint = at;
    await options.onCheckpoint?.(options.checkpointPath, at, history);
  };

  try {
    while (iteration < options.iterations) {
      iteration++;
      const batch = await pending!;
      const context: LossContext = { iteration, phase: 'train', seed: mixSeed(seed, iteration) };
      // The loss and its terms, packed into one vector that outlives the step's scope: one readback.
      const read: { names: string[]; packed: Tensor | null } = { names: [], packed: null };
      const { value, grads } = valueAndGradOf(() => {
        const result = model.loss(batch, context);
        read.names = Object.keys(result.terms);
        read.packed = keep(noGrad(() => packScalars([result.total, ...read.names.map((n) => result.terms[n]!)])));
        return result.total;
      }, params);
      adam.step(grads);
      for (const g of grads) g.dispose();
      value.dispose();
      // Prefetch the next batch while the GPU works; remember where the stream stood for checkpoints.
      dataState = data.saveState();
      pending = iteration < options.iterations ? fetch() : null;
      const termNames = read.names;
      const values = await read.packed!.data();
      read.packed!.dispose();
      if (!values.every(Number.isFinite)) throw diverged('training loss', values.find((v) => !Number.isFinite(v))!);
      const now = performance.now();
      const terms: Record<string, number> = {};
      termNames.forEach((n, i) => (terms[n] = values[i + 1]!));
      history.train.iteration.push(iteration);
      history.train.total.push(values[0]!);
      for (const n of termNames) (history.train.terms[n] ??= []).push(terms[n]!);
      options.onIteration?.({
        iteration,
        iterations: options.iterations,
        total: values[0]!,
        terms,
        imagesPerSecond: data.batchSize / Math.max((now - lastTime) / 1000, 1e-9),
        seconds: elapsed(),
      });
      lastTime = now;

      if (validate && iteration % valEvery === 0) {
        model.setTraining(false);
        let loss: number;
        try {
          loss = await validate(model, iteration);
        } finally {
          model.setTraining(true);
        }
        if (!Number.isFinite(loss)) throw diverged('validation loss', loss);
        const improved = plateau.update(loss);
        history.validation.iteration.push(iteration);
        history.validation.loss.push(loss);
        if (improved) {
          best = { iteration, loss };
          bestWeights = await model.saveState();
          await options.onBest?.(bestWeights, best);
        }
        options.onValidation?.({ iteration, loss, improved, best, sinceImprovement: plateau.save().sinceImprovement });
        if (plateau.exhausted) stopReason = 'early-stop';
      }
      if (stopReason === 'iterations' && iteration < options.iterations && options.shouldStop?.()) stopReason = 'interrupted';
      const last = stopReason !== 'iterations' || iteration >= options.iterations;
      if ((checkpointEvery > 0 && iteration % checkpointEvery === 0) || last) await checkpoint(iteration);
      lastTime = performance.now();
      if (stopReason !== 'iterations') break;
    }
    const finalWeights = bestWeights ?? (await model.saveState());
    if (bestWeights) model.loadState(bestWeights);
    return { iteration, stopReason, best, weights: finalWeights, history, seconds: elapsed() };
  } finally {
    model.setTraining(false);
    adam.dispose();
  }
}
