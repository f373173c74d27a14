import { conv2d } from '../../autograd/ops/conv2d.ts';
import { dropout } from '../../autograd/ops/dropout.ts';
import { batchNorm, instanceNorm, type NormEpilogue } from '../../autograd/ops/norm.ts';
import { upsampleNearest } from '../../autograd/ops/resize.ts';
import { fill } from '../../gpu/kernels/elementwise.ts';
import type { Runtime } from '../../gpu/runtime.ts';
import { formatShape, type Tensor } from '../../gpu/tensor.ts';
import { ParamStore, release } from './params.ts';
import { heUniform } from './init.ts';

export type NormKind = 'instance' | 'batch';

export interface TransformerNetOptions {
  norm?: NormKind;
  /** Dropout probability inside the residual blocks (training only). */
  dropout?: number;
}

/** Conv layers in order: name, kernel, in, out, stride, and the norm that follows (null: none). */
const LAYERS = [
  { conv: 'conv1', k: 9, cin: 3, cout: 32, stride: 1, norm: 'in1', upsample: false },
  { conv: 'conv2', k: 3, cin: 32, cout: 64, stride: 2, norm: 'in2', upsample: false },
  { conv: 'conv3', k: 3, cin: 64, cout: 128, stride: 2, norm: 'in3', upsample: false },
  { conv: 'deconv1', k: 3, cin: 128, cout: 64, stride: 1, norm: 'in4', upsample: true },
  { conv: 'deconv2', k: 3, cin: 64, cout: 32, stride: 1, norm: 'in5', upsample: true },
  { conv: 'deconv3', k: 9, cin: 32, cout: 3, stride: 1, norm: null, upsample: false },
] as const;
const RESIDUAL_BLOCKS = 5;

interface ConvSpec {
  name: string;
  k: number;
  cin: number;
  cout: number;
  /** The norm layer after the conv (null for the output conv). */
  norm: string | null;
}

/** Every conv in the net, residual blocks included, in order. */
export function transformerNetConvSpecs(): ConvSpec[] {
  const specs: ConvSpec[] = LAYERS.slice(0, 3).map((l) => ({ name: l.conv, k: l.k, cin: l.cin, cout: l.cout, norm: l.norm }));
  for (let r = 1; r <= RESIDUAL_BLOCKS; r++) {
    specs.push({ name: `res${r}.conv1`, k: 3, cin: 128, cout: 128, norm: `res${r}.in1` });
    specs.push({ name: `res${r}.conv2`, k: 3, cin: 128, cout: 128, norm: `res${r}.in2` });
  }
  for (const l of LAYERS.slice(3)) specs.push({ name: l.conv, k: l.k, cin: l.cin, cout: l.cout, norm: l.norm });
  return specs;
}

/** Parameters of a norm layer: affine scale/shift (PyTorch's weight/bias), plus running stats for batch norm. */
function normParamNames(norm: string, kind: NormKind): string[] {
  const base = [`${norm}.weight`, `${norm}.bias`];
  return kind === 'batch' ? [...base, `${norm}.running_mean`, `${norm}.running_var`] : base;
}

/**
 * The feed-forward image transformation net of PyTorch's fast_neural_style example (Johnson et al.
 * with reflection padding and upsample+conv instead of transposed convs). Parameter names follow that
 * example's state_dict; kernels are [kh, kw, in, out]. Input and output: RGB 0..255, NHWC; the output
 * is not clamped. Trainable, with instance or batch norm and optional dropout in the residual blocks.
 */
export class TransformerNet {
  readonly norm: NormKind;
  readonly dropoutRate: number;
  training = false;
  /** Seed for dropout masks; the training loop advances it each step for reproducible runs. */
  dropoutSeed = 0;

  constructor(
    readonly params: ParamStore,
    options: TransformerNetOptions = {},
  ) {
    this.norm = options.norm ?? 'instance';
    this.dropoutRate = options.dropout ?? 0;
    for (const spec of transformerNetConvSpecs()) {
      params.get(`${spec.name}.conv2d.weight`, [spec.k, spec.k, spec.cin, spec.cout]);
      params.get(`${spec.name}.conv2d.bias`, [spec.cout]);
      if (spec.norm) for (const n of normParamNames(spec.norm, this.norm)) params.get(n, [spec.cout]);
    }
  }

  /** A freshly initialised net (He-uniform convs, unit norm scales) for training. */
  static initialize(runtime: Runtime, seed: number, options: TransformerNetOptions = {}): TransformerNet {
    const params = new ParamStore(runtime, 'transformer-net (new)');
    const norm = options.norm ?? 'instance';
    let s = seed;
    for (const spec of transformerNetConvSpecs()) {
      params.set(`${spec.name}.conv2d.weight`, heUniform(runtime, [spec.k, spec.k, spec.cin, spec.cout], spec.k * spec.k * spec.cin, s++));
      params.set(`${spec.name}.conv2d.bias`, fill(runtime, [spec.cout], 0));
      if (spec.norm) {
        params.set(`${spec.norm}.weight`, fill(runtime, [spec.cout], 1));
        params.set(`${spec.norm}.bias`, fill(runtime, [spec.cout], 0));
        if (norm === 'batch') {
          params.set(`${spec.norm}.running_mean`, fill(runtime, [spec.cout], 0));
          params.set(`${spec.norm}.running_var`, fill(runtime, [spec.cout], 1));
        }
      }
    }
    return new TransformerNet(params, options);
  }

  /** The tensors an optimiser updates (batch-norm running statistics excluded). */
  trainableParams(): Tensor[] {
    return this.params
      .names()
      .filter((n) => !n.endsWith('running_mean') && !n.endsWith('running_var'))
      .map((n) => this.params.get(n));
  }

  /** Conv, then its norm with the ReLU or the residual add fused into the norm's output pass. */
  private convNorm(x: Tensor, name: string, k: number, stride: 1 | 2, norm: string | null, epilogue: NormEpilogue): Tensor {
    const conv = conv2d(x, this.params.get(`${name}.conv2d.weight`), {
      bias: this.params.get(`${name}.conv2d.bias`),
      stride,
      padding: Math.floor(k / 2),
      padMode: 'reflect',
    });
    if (!norm) return conv;
    const y = this.applyNorm(conv, norm, epilogue);
    release(conv);
    return y;
  }

  private applyNorm(x: Tensor, norm: string, epilogue: NormEpilogue): Tensor {
    const scale = this.params.get(`${norm}.weight`);
    const shift = this.params.get(`${norm}.bias`);
    if (this.norm === 'instance') return instanceNorm(x, { scale, shift, eps: 1e-5, ...epilogue });
    return batchNorm(x, {
      scale,
      shift,
      eps: 1e-5,
      ...epilogue,
      training: this.training,
      running: { mean: this.params.get(`${norm}.running_mean`), variance: this.params.get(`${norm}.running_var`) },
    });
  }

  /** Stylizes an RGB (0..255) batch [N, H, W, 3]; H and W should be multiples of 4 (see stylize). */
  forward(image: Tensor): Tensor {
    if (image.rank !== 4 || image.shape[3] !== 3) throw new Error(`transformer-net: expects an RGB batch [N, H, W, 3], got ${formatShape(image.shape)}`);
    let x = image;
    const step = (next: Tensor) => {
      if (x !== image) release(x);
      x = next;
    };
    const relu: NormEpilogue = { activation: 'relu' };
    for (const l of LAYERS.slice(0, 3)) step(this.convNorm(x, l.conv, l.k, l.stride, l.norm, relu));
    for (let r = 1; r <= RESIDUAL_BLOCKS; r++) {
      const input = x;
      let h = this.convNorm(input, `res${r}.conv1`, 3, 1, `res${r}.in1`, relu);
      if (this.training && this.dropoutRate > 0) {
        const dropped = dropout(h, this.dropoutRate, { seed: this.dropoutSeed * 64 + r, training: true });
        release(h);
        h = dropped;
      }
      // input + IN(conv(h)) in the norm's output pass.
      const sum = this.convNorm(h, `res${r}.conv2`, 3, 1, `res${r}.in2`, { residual: input });
      release(h);
      step(sum);
    }
    for (const l of LAYERS.slice(3)) {
      if (l.upsample) step(upsampleNearest(x, 2));
      step(this.convNorm(x, l.conv, l.k, 1, l.norm, l.norm ? relu : {}));
    }
    return x;
  }

  dispose(): void {
    this.params.dispose();
  }
}
