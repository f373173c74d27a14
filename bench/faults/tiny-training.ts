/**
 * A tiny trainable conv net and a seeded stream of synthetic 32 px images: the real training loop
 * (Adam, validation, checkpoints, resume) at a cost of milliseconds per step, for soak and kill tests.
 * The net learns a fixed colour remix of its input through conv → instance norm → ReLU → conv.
 */
import { conv2d } from '../../src/autograd/ops/conv2d.ts';
import { add, affine, relu } from '../../src/autograd/ops/elementwise.ts';
import { mse, sumSquares } from '../../src/autograd/ops/losses.ts';
import { instanceNorm } from '../../src/autograd/ops/norm.ts';
import type { Runtime } from '../../src/gpu/runtime.ts';
import type { Tensor } from '../../src/gpu/tensor.ts';
import { SeededRandom } from '../../src/nets/random.ts';
import type { BatchSource, JsonValue, LossContext, LossResult, TrainableModel } from '../../src/nets/train/trainable.ts';
import type { HostTensorMap } from '../../src/nets/weights/host-tensor.ts';

export const TINY_SIZE = 32;
const HIDDEN = 8;

/** A batch: N images, NHWC, 0..1, with the target each should become. */
export interface TinyBatch {
  count: number;
  input: Float32Array;
  target: Float32Array;
}

const SHAPES: Record<string, number[]> = {
  w1: [3, 3, 3, HIDDEN],
  scale: [HIDDEN],
  shift: [HIDDEN],
  w2: [3, 3, HIDDEN, 3],
};

export class TinyConvModel implements TrainableModel<TinyBatch> {
  private tensors = new Map<string, Tensor>();

  private readonly shapes: Record<string, number[]>;

  /** `ballast` > 0 adds a parameter of that many values with a tiny weight-decay loss: big checkpoints, little work. */
  constructor(
    private readonly runtime: Runtime,
    seed: number,
    ballast = 0,
  ) {
    const rng = new SeededRandom(seed);
    this.shapes = ballast > 0 ? { ...SHAPES, ballast: [ballast] } : SHAPES;
    for (const [name, shape] of Object.entries(this.shapes)) {
      const size = shape.reduce((a, b) => a * b, 1);
      const fanIn = shape.length === 4 ? shape[0]! * shape[1]! * shape[2]! : 1;
      const values = Array.from({ length: size }, () => (name === 'scale' ? 1 : name === 'shift' ? 0 : rng.normal() / Math.sqrt(fanIn)));
      this.tensors.set(name, runtime.upload(values, shape));
    }
  }

  params(): Tensor[] {
    return Object.keys(this.shapes).map((n) => this.tensors.get(n)!);
  }

  loss(batch: TinyBatch, _context: LossContext): LossResult {
    const shape = [batch.count, TINY_SIZE, TINY_SIZE, 3];
    const x = this.runtime.upload(batch.input, shape);
    const target = this.runtime.upload(batch.target, shape);
    const p = (n: string) => this.tensors.get(n)!;
    const h = relu(instanceNorm(conv2d(x, p('w1'), { padding: 1 }), { scale: p('scale'), shift: p('shift') }));
    const y = conv2d(h, p('w2'), { padding: 1 });
    const fit = mse(y, target);
    if (!this.tensors.has('ballast')) return { total: fit, terms: { fit } };
    const decay = affine(sumSquares(p('ballast')), 1e-9);
    return { total: add(fit, decay), terms: { fit, decay } };
  }

  setTraining(): void {}

  async saveState(): Promise<HostTensorMap> {
    const state: HostTensorMap = new Map();
    for (const [name, t] of this.tensors) state.set(name, { shape: [...t.shape], data: await t.data() });
    return state;
  }

  loadState(state: HostTensorMap): void {
    for (const [name, t] of state) {
      this.tensors.get(name)?.dispose();
      this.tensors.set(name, this.runtime.upload(t.data, t.shape));
    }
  }

  describe(): Record<string, string> {
    return { model: 'tiny-conv', hidden: String(HIDDEN), ballast: String(this.shapes.ballast?.[0] ?? 0) };
  }

  dispose(): void {
    for (const t of this.tensors.values()) t.dispose();
  }
}

/** Smooth random colour fields (so the remix is learnable), one seeded stream whose state is one number. */
export class TinyImages implements BatchSource<TinyBatch> {
  private rng: SeededRandom;

  constructor(
    readonly batchSize: number,
    seed: number,
  ) {
    this.rng = new SeededRandom(seed);
  }

  async next(): Promise<TinyBatch> {
    return tinyBatch(this.rng, this.batchSize);
  }

  saveState(): JsonValue {
    return this.rng.state;
  }

  restoreState(state: JsonValue): void {
    this.rng = new SeededRandom(state as number);
  }
}

export function tinyBatch(rng: SeededRandom, count: number): TinyBatch {
  const n = count * TINY_SIZE * TINY_SIZE * 3;
  const input = new Float32Array(n);
  const target = new Float32Array(n);
  for (let b = 0; b < count; b++) {
    const f = Array.from({ length: 6 }, () => rng.uniform(0.05, 0.4));
    const ph = Array.from({ length: 6 }, () => rng.uniform(0, 6.28));
    for (let i = 0; i < TINY_SIZE * TINY_SIZE; i++) {
      const y = Math.floor(i / TINY_SIZE);
      const x = i % TINY_SIZE;
      const o = (b * TINY_SIZE * TINY_SIZE + i) * 3;
      for (let c = 0; c < 3; c++) input[o + c] = 0.5 + 0.5 * Math.sin(f[c]! * x + f[c + 3]! * y + ph[c]!);
      target[o] = input[o + 2]!;
      target[o + 1] = 0.5 * (input[o]! + input[o + 1]!);
      target[o + 2] = 1 - input[o + 1]!;
    }
  }
  return { count, input, target };
}
