/**
 * The shared training loop on a toy model (a vector fitted to noisy targets), so that its logic —
 * early stopping that keeps the best weights, checkpoints, exact resume, the loss curve — is tested
 * in milliseconds; test/nets/train/feed-forward.test.ts runs the same loop on the real nets.
 */
import { mkdtempSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { affine } from '../../../src/autograd/ops/elementwise.ts';
import { mse } from '../../../src/autograd/ops/losses.ts';
import type { Runtime } from '../../../src/gpu/runtime.ts';
import type { Tensor } from '../../../src/gpu/tensor.ts';
import { decodeImage } from '../../../src/io/image.ts';
import { SeededRandom } from '../../../src/nets/random.ts';
import { parseCheckpoint, readCheckpoint, serializeCheckpoint, type TrainingCheckpoint } from '../../../src/nets/train/node/checkpoint.ts';
import { drawLossCurve, formatTick, writeLossCurve } from '../../../src/nets/train/node/loss-curve.ts';
import { lossValidator, train, TrainingDivergedError } from '../../../src/nets/train/loop.ts';
import type { BatchSource, JsonValue, LossContext, TrainableModel } from '../../../src/nets/train/trainable.ts';
import type { HostTensorMap } from '../../../src/nets/weights/host-tensor.ts';
import { useRuntime } from '../../helpers/gpu.ts';

const runtime = useRuntime();
const SIZE = 8;

/** w fitted to noisy targets; the iteration's seed adds a tiny offset, like a dropout mask would. */
class ToyModel implements TrainableModel<number[]> {
  w: Tensor;
  training = false;
  seeds: number[] = [];

  constructor(private readonly rt: Runtime) {
    this.w = rt.upload(new Float32Array(SIZE), [SIZE]);
  }

  params(): Tensor[] {
    return [this.w];
  }

  loss(batch: number[], context: LossContext): { total: Tensor; terms: Record<string, Tensor> } {
    if (context.phase === 'train') this.seeds.push(context.seed);
    const target = this.rt.upload(batch.map((v) => v + (this.training ? (context.seed % 7) * 1e-3 : 0)), [SIZE]);
    const fit = mse(this.w, target);
    const half = affine(fit, 0.5, 0);
    return { total: affine(fit, 1.5, 0), terms: { fit, half } };
  }

  setTraining(training: boolean): void {
    this.training = training;
  }

  async saveState(): Promise<HostTensorMap> {
    return new Map([['w', { shape: [SIZE], data: await this.w.data() }]]);
  }

  loadState(state: HostTensorMap): void {
    this.w.dispose();
    this.w = this.rt.upload(state.get('w')!.data, [SIZE]);
  }

  describe(): Record<string, string> {
    return { model: 'toy' };
  }

  dispose(): void {
    this.w.dispose();
  }
}

/** Targets around 3, from a seeded stream whose state is one number. */
class ToySource implements BatchSource<number[]> {
  readonly batchSize = 1;
  private rng = new SeededRandom(42);

  async next(): Promise<number[]> {
    return Array.from({ length: SIZE }, (_, i) => 3 + i * 0.1 + this.rng.uniform(-0.5, 0.5));
  }

  saveState(): JsonValue {
    return this.rng.state;
  }

  restoreState(state: JsonValue): void {
    this.rng = new SeededRandom(state as number);
  }
}

const tmp = () => mkdtempSync(join(tmpdir(), 'pastiche-loop-'));

describe('training loop', () => {
  it('lowers the training loss, reports terms and images/second, and keeps the final weights without validation', async () => {
    const model = new ToyModel(runtime());
    const reports: { total: number; terms: Record<string, number>; ips: number }[] = [];
    const result = await train({
      model,
      data: new ToySource(),
      iterations: 60,
      adam: { lr: 0.2 },
      valEvery: 0,
      onIteration: (r) => reports.push({ total: r.total, terms: r.terms, ips: r.imagesPerSecond }),
    });
    expect(result.iteration).toBe(60);
    expect(result.best).toBeNull();
    expect(reports.at(-1)!.total).toBeLessThan(reports[0]!.total / 10);
    for (const r of reports) {
      expect(r.terms.fit! * 1.5).toBeCloseTo(r.total, 3);
      expect(r.terms.half! * 3).toBeCloseTo(r.total, 3);
      expect(r.ips).toBeGreaterThan(0);
    }
    expect(result.history.train.total).toEqual(reports.map((r) => r.total));
    expect([...result.weights.get('w')!.data]).toEqual([...(await model.w.data())]);
    expect(model.training).toBe(false);
    model.dispose();
  });

  it('stops early on a scripted validation curve and restores the best-validation weights, not the last', async () => {
    const dir = tmp();
    const model = new ToyModel(runtime());
    // Validation after every 2nd iteration: best at the 3rd validation (iteration 6), then 2 worse ones.
    const scripted = [5, 4, 3, 3.5, 3.2, 1, 1];
    const snapshots = new Map<number, Float32Array>();
    const modes: boolean[] = [];
    const bestWrites: number[] = [];
    let written: Float32Array | null = null;
    const result = await train({
      model,
      data: new ToySource(),
      iterations: 100,
      adam: { lr: 0.1 },
      valEvery: 2,
      patience: 2,
      checkpointPath: join(dir, 'run.ckpt.safetensors'),
      checkpointEvery: 4,
      validate: async (m, iteration) => {
        modes.push((m as ToyModel).training);
        snapshots.set(iteration, (await m.saveState()).get('w')!.data);
        return scripted[snapshots.size - 1]!;
      },
      onBest: async (weights, best) => {
        bestWrites.push(best.iteration);
        written = weights.get('w')!.data;
      },
    });
    expect(modes.every((training) => training === false)).toBe(true);
    expect(result.stopReason).toBe('early-stop');
    expect(result.iteration).toBe(10); // validations at 2, 4, 6, 8, 10; the last two did not improve
    expect(result.best).toEqual({ iteration: 6, loss: 3 });
    expect(bestWrites).toEqual([2, 4, 6]);
    const best = snapshots.get(6)!;
    expect(snapshots.get(10)).not.toEqual(best);
    expect(result.weights.get('w')!.data).toEqual(best);
    expect(written).toEqual(best);
    // The model itself now holds the best weights.
    expect(await model.w.data()).toEqual(best);
    // The checkpoint written when the run stopped: current (last) weights and the best ones.
    const ckpt = await readCheckpoint(join(dir, 'run.ckpt.safetensors'));
    expect(ckpt.state.iteration).toBe(10);
    expect(ckpt.best!.get('w')!.data).toEqual(best);
    expect(ckpt.model.get('w')!.data).toEqual(snapshots.get(10));
    expect(ckpt.state.best).toEqual({ iteration: 6, loss: 3 });
    expect(ckpt.state.history.validation).toEqual({ iteration: [2, 4, 6, 8, 10], loss: [5, 4, 3, 3.5, 3.2] });
    model.dispose();
  });

  it('resumes from a checkpoint bit-identically to an uninterrupted run', async () => {
    const dir = tmp();
    const common = { adam: { lr: 0.05 }, valEvery: 3, patience: 0, seed: 9, checkpointEvery: 5 };
    const validate = lossValidator([[1, 2, 3, 4, 5, 6, 7, 8]], () => 1);

    const straight = new ToyModel(runtime());
    const full = await train({ ...common, model: straight, data: new ToySource(), iterations: 12, validate, checkpointPath: join(dir, 'full.ckpt') });

    const first = new ToyModel(runtime());
    await train({ ...common, model: first, data: new ToySource(), iterations: 7, validate, checkpointPath: join(dir, 'part.ckpt') });
    first.dispose();
    const checkpoint = await readCheckpoint(join(dir, 'part.ckpt'));
    expect(checkpoint.state.iteration).toBe(7);
    const second = new ToyModel(runtime());
    const resumed = await train({ ...common, model: second, data: new ToySource(), iterations: 12, validate, checkpointPath: join(dir, 'part.ckpt'), resume: checkpoint });

    expect(second.seeds).toEqual(straight.seeds.slice(7));
    expect(resumed.history).toEqual(full.history);
    expect(resumed.best).toEqual(full.best);
    expect(resumed.weights.get('w')!.data).toEqual(full.weights.get('w')!.data);
    const a = await readCheckpoint(join(dir, 'full.ckpt'));
    const b = await readCheckpoint(join(dir, 'part.ckpt'));
    expect(b.model.get('w')!.data).toEqual(a.model.get('w')!.data);
    expect(b.adam).toEqual(a.adam);
    expect({ ...b.state, seconds: 0 }).toEqual({ ...a.state, seconds: 0 });

    // A checkpoint of another model is refused.
    const other = new ToyModel(runtime());
    other.describe = () => ({ model: 'other' });
    await expect(train({ ...common, model: other, data: new ToySource(), iterations: 12, resume: checkpoint })).rejects.toThrow(/different model/);
    for (const m of [straight, second, other]) m.dispose();
  });

  it('stops with a clear error when the loss diverges', async () => {
    const model = new ToyModel(runtime());
    const data = new ToySource();
    data.next = async () => Array.from({ length: SIZE }, () => NaN);
    await expect(train({ model, data, iterations: 3, valEvery: 0 })).rejects.toThrow(TrainingDivergedError);
    model.dispose();
  });

  it('keeps the last good checkpoint when the training loss turns NaN, and says where it is', async () => {
    const model = new ToyModel(runtime());
    const data = new ToySource();
    const good = data.next.bind(data);
    let batches = 0;
    // The batch of iteration 7 is poisoned: the checkpoint of iteration 4 is the last good one.
    data.next = async () => (++batches === 7 ? Array.from({ length: SIZE }, () => NaN) : good());
    const path = join(tmp(), 'run.ckpt.safetensors');
    await expect(train({ model, data, iterations: 20, valEvery: 0, checkpointEvery: 4, checkpointPath: path })).rejects.toThrow(
      `the training loss became NaN at iteration 7; lower the learning rate or the loss weights; the checkpoint of iteration 4 in ${path} is kept`,
    );
    expect((await readCheckpoint(path)).state.iteration).toBe(4);
    model.dispose();
  });

  it('stops on a NaN or infinite validation loss too', async () => {
    const model = new ToyModel(runtime());
    const validate = async (_m: unknown, iteration: number) => (iteration < 4 ? 1 : Infinity);
    await expect(train({ model, data: new ToySource(), iterations: 10, valEvery: 2, validate })).rejects.toThrow(
      /^the validation loss became Infinity at iteration 4; lower the learning rate/,
    );
    model.dispose();
  });
});

describe('checkpoints and the loss curve', () => {
  it('round-trips a checkpoint, infinities included, and rejects other files', () => {
    const checkpoint: TrainingCheckpoint = {
      state: {
        iteration: 3,
        adamStep: 3,
        data: { epoch: 1, position: 2, rng: 77 },
        plateau: { patience: 4, tolerance: 0, best: Infinity, bestIndex: -1, sinceImprovement: 0, index: -1 },
        best: null,
        history: { train: { iteration: [1, 2, 3], total: [3, 2, 1], terms: { a: [1, 1, 1] } }, validation: { iteration: [], loss: [] } },
        model: { model: 'toy' },
        config: { lr: 0.001 },
        seconds: 1.5,
      },
      model: new Map([['w', { shape: [2], data: Float32Array.from([1, 2]) }]]),
      best: null,
      adam: { m: [{ shape: [2], data: Float32Array.from([0.1, 0.2]) }], v: [{ shape: [2], data: Float32Array.from([0.3, 0.4]) }] },
    };
    const back = parseCheckpoint(serializeCheckpoint(checkpoint), 'test');
    expect(back).toEqual(checkpoint);
    expect(() => parseCheckpoint(new Uint8Array(16), 'x')).toThrow();
  });

  it('draws train and validation curves with axes into a PNG', async () => {
    const history = {
      train: { iteration: Array.from({ length: 200 }, (_, i) => i + 1), total: Array.from({ length: 200 }, (_, i) => 1e6 / (1 + i) + (i % 7) * 100), terms: {} },
      validation: { iteration: [50, 100, 150, 200], loss: [3e4, 1.5e4, 1.2e4, 1.4e4] },
    };
    const image = drawLossCurve(history, { width: 400, height: 240 });
    expect([image.width, image.height]).toEqual([400, 240]);
    const colours = new Set<string>();
    for (let i = 0; i < image.data.length; i += 3) colours.add(`${Math.round(image.data[i]!)},${Math.round(image.data[i + 1]!)},${Math.round(image.data[i + 2]!)}`);
    for (const c of ['30,90,200', '230,120,20', '20,150,60', '40,40,40']) expect(colours.has(c), c).toBe(true);
    const path = join(tmp(), 'curve.png');
    await writeLossCurve(path, history);
    const png = decodeImage(new Uint8Array(await readFile(path)));
    expect([png.width, png.height]).toEqual([800, 480]);
    expect(drawLossCurve({ train: { iteration: [], total: [], terms: {} }, validation: { iteration: [], loss: [] } }).width).toBe(800);
    expect([formatTick(1200), formatTick(35000), formatTick(0.0021), formatTick(0)]).toEqual(['1200', '3.5e4', '2.1e-3', '0']);
  });
});
