import { conv2d, conv2dTranspose } from '../../autograd/ops/conv2d.ts';
import { affine, tanh } from '../../autograd/ops/elementwise.ts';
import { batchNorm, instanceNorm, type NormEpilogue } from '../../autograd/ops/norm.ts';
import { dropout } from '../../autograd/ops/dropout.ts';
import { currentTape } from '../../autograd/tape.ts';
import { cast } from '../../gpu/kernels/cast.ts';
import { fill } from '../../gpu/kernels/elementwise.ts';
import type { Runtime } from '../../gpu/runtime.ts';
import { formatShape, type Tensor } from '../../gpu/tensor.ts';
import { heUniform } from './init.ts';
import { ParamStore, release } from './params.ts';
import type { NormKind, TransformerNetOptions } from './transformer-net.ts';

interface JohnsonLayer {
  name: string;
  k: number;
  cin: number;
  cout: number;
  stride: 1 | 2;
  transposed: boolean;
  relu: boolean;
}

/** The layers in order (residual-block convs included): Johnson et al.'s net as in lengstrom's TF code. */
export function johnsonLayers(): JohnsonLayer[] {
  const layers: JohnsonLayer[] = [
    { name: 'conv1', k: 9, cin: 3, cout: 32, stride: 1, transposed: false, relu: true },
    { name: 'conv2', k: 3, cin: 32, cout: 64, stride: 2, transposed: false, relu: true },
    { name: 'conv3', k: 3, cin: 64, cout: 128, stride: 2, transposed: false, relu: true },
  ];
  for (let r = 1; r <= 5; r++) {
    layers.push({ name: `res${r}.conv1`, k: 3, cin: 128, cout: 128, stride: 1, transposed: false, relu: true });
    layers.push({ name: `res${r}.conv2`, k: 3, cin: 128, cout: 128, stride: 1, transposed: false, relu: false });
  }
  layers.push(
    { name: 'deconv1', k: 3, cin: 128, cout: 64, stride: 2, transposed: true, relu: true },
    { name: 'deconv2', k: 3, cin: 64, cout: 32, stride: 2, transposed: true, relu: true },
    { name: 'conv4', k: 9, cin: 32, cout: 3, stride: 1, transposed: false, relu: false },
  );
  return layers;
}

function kernelShape(l: JohnsonLayer): number[] {
  return l.transposed ? [l.k, l.k, l.cout, l.cin] : [l.k, l.k, l.cin, l.cout];
}

/**
 * Johnson et al.'s image transformation net in the layout of lengstrom/fast-style-transfer (the ml5
 * models): TensorFlow SAME zero padding, no conv biases, instance norm (eps 1e-3) after every conv,
 * transposed convs to upsample, and `tanh(y)·150 + 127.5` as output (RGB, clamp to 0..255 for an image).
 * Parameters: `<layer>.weight`, `<layer>.norm.scale`, `<layer>.norm.shift` (and running stats for batch norm).
 */
export class JohnsonNet {
  readonly norm: NormKind;
  readonly dropoutRate: number;
  readonly eps = 1e-3;
  training = false;
  dropoutSeed = 0;

  constructor(
    readonly params: ParamStore,
    options: TransformerNetOptions = {},
  ) {
    this.norm = options.norm ?? 'instance';
    this.dropoutRate = options.dropout ?? 0;
    for (const l of johnsonLayers()) {
      params.get(`${l.name}.weight`, kernelShape(l));
      params.get(`${l.name}.norm.scale`, [l.cout]);
      params.get(`${l.name}.norm.shift`, [l.cout]);
    }
  }

  static initialize(runtime: Runtime, seed: number, options: TransformerNetOptions = {}): JohnsonNet {
    const params = new ParamStore(runtime, 'johnson net (new)');
    let s = seed;
    for (const l of johnsonLayers()) {
      params.set(`${l.name}.weight`, heUniform(runtime, kernelShape(l), l.k * l.k * l.cin, s++));
      params.set(`${l.name}.norm.scale`, fill(runtime, [l.cout], 1));
      params.set(`${l.name}.norm.shift`, fill(runtime, [l.cout], 0));
      if ((options.norm ?? 'instance') === 'batch') {
        params.set(`${l.name}.norm.running_mean`, fill(runtime, [l.cout], 0));
        params.set(`${l.name}.norm.running_var`, fill(runtime, [l.cout], 1));
      }
    }
    return new JohnsonNet(params, options);
  }

  trainableParams(): Tensor[] {
    return this.params
      .names()
      .filter((n) => !n.endsWith('running_mean') && !n.endsWith('running_var'))
      .map((n) => this.params.get(n));
  }

  /** Conv, then its norm with the layer's ReLU, or the block's residual add, fused into the norm's output pass. */
  private layer(x: Tensor, l: JohnsonLayer, residual: Tensor | null = null): Tensor {
    const w = this.params.get(`${l.name}.weight`);
    const conv = l.transposed ? this.transposed(x, w) : conv2d(x, w, { stride: l.stride, padding: 'same' });
    const scale = this.params.get(`${l.name}.norm.scale`);
    const shift = this.params.get(`${l.name}.norm.shift`);
    const epilogue: NormEpilogue = l.relu ? { activation: 'relu' } : { residual };
    const y =
      this.norm === 'instance'
        ? instanceNorm(conv, { scale, shift, eps: this.eps, ...epilogue })
        : batchNorm(conv, {
            scale,
            shift,
            eps: this.eps,
            ...epilogue,
            training: this.training,
            running: { mean: this.params.get(`${l.name}.norm.running_mean`), variance: this.params.get(`${l.name}.norm.running_var`) },
          });
    release(conv);
    return y;
  }

  /**
   * The stride-2 transposed conv. Its kernels are f32 only, so with f16 activations (f16 inference,
   * the filter kept f32) it runs on an f32 copy of x and its result is cast back to f16.
   */
  private transposed(x: Tensor, w: Tensor): Tensor {
    if (x.dtype === w.dtype) return conv2dTranspose(x, w, { stride: 2, padding: 'same' });
    if (currentTape() !== null) throw new Error('johnson net: f16 activations are for inference only; run it under noGrad, or in f32 to train');
    const wide = cast(x, w.dtype);
    const y = conv2dTranspose(wide, w, { stride: 2, padding: 'same' });
    wide.dispose();
    const narrow = cast(y, x.dtype);
    y.dispose();
    return narrow;
  }

  /** RGB (0..255) batch [N, H, W, 3] → stylized RGB, unclamped (H, W multiples of 4 keep sizes exact). */
  forward(image: Tensor): Tensor {
    if (image.rank !== 4 || image.shape[3] !== 3) throw new Error(`johnson net: expects an RGB batch [N, H, W, 3], got ${formatShape(image.shape)}`);
    const layers = johnsonLayers();
    let x = image;
    const step = (next: Tensor) => {
      if (x !== image) release(x);
      x = next;
    };
    for (const l of layers.slice(0, 3)) step(this.layer(x, l));
    for (let r = 0; r < 5; r++) {
      const input = x;
      let h = this.layer(input, layers[3 + 2 * r]!);
      if (this.training && this.dropoutRate > 0) {
        const dropped = dropout(h, this.dropoutRate, { seed: this.dropoutSeed * 64 + r, training: true });
        release(h);
        h = dropped;
      }
      const sum = this.layer(h, layers[4 + 2 * r]!, input);
      release(h);
      step(sum);
    }
    for (const l of layers.slice(13)) step(this.layer(x, l));
    const t = tanh(x);
    step(t);
    step(affine(x, 150, 127.5));
    return x;
  }

  dispose(): void {
    this.params.dispose();
  }
}
