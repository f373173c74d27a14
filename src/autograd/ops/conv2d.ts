import { binary } from '../../gpu/kernels/elementwise.ts';
import { conv2dGeometry, type ConvGeometry, type ConvPadding } from '../../gpu/kernels/conv2d/geometry.ts';
import { conv2dBiasGradKernel, conv2dFilterGradKernel, conv2dForwardKernel, conv2dInputGradKernel } from '../../gpu/kernels/conv2d/launch.ts';
import type { ConvKernelOptions } from '../../gpu/kernels/conv2d/rules.ts';
import type { PadMode } from '../../gpu/kernels/pad.ts';
import { formatShape, type Tensor } from '../../gpu/tensor.ts';
import { record } from '../tape.ts';
import { convFlops, countFlops } from './work.ts';

export type { ConvPadding } from '../../gpu/kernels/conv2d/geometry.ts';

export interface Conv2dOptions {
  stride?: 1 | 2;
  /** 'valid', TensorFlow 'same', one pad for every side, or [top, bottom, left, right]. Default 'valid'. */
  padding?: ConvPadding;
  /** How padded pixels are filled: zeros, or the mirror image of the input (no edge repeat). */
  padMode?: PadMode;
  groups?: number;
  /** [Cout], added to every output pixel. */
  bias?: Tensor;
  dilation?: number;
  /** Fused activation applied to the output: max(y, 0) or min(max(y, 0), 6). */
  activation?: 'relu' | 'relu6';
  /** Kernel selection (tests and benchmarks). */
  kernel?: ConvKernelOptions;
}

export type DepthwiseConv2dOptions = Omit<Conv2dOptions, 'groups'>;

export interface Conv2dTransposeOptions {
  stride?: 1 | 2;
  padding?: ConvPadding;
  /** [N, H, W, Cout] of the result; by default H·stride for 'same', (H-1)·stride + kh for 'valid'. */
  outputShape?: readonly number[];
  kernel?: ConvKernelOptions;
}

/** The shared op: `wShape` is the HWIO shape the kernels see (depthwise views its filter as one). */
function convolve(op: string, x: Tensor, w: Tensor, wShape: readonly number[], opts: Conv2dOptions): Tensor {
  const geom = conv2dGeometry(op, x.shape, wShape, opts);
  const bias = opts.bias ?? null;
  if (bias && (bias.rank !== 1 || bias.shape[0] !== geom.outC)) {
    throw new Error(`${op}: bias has shape ${formatShape(bias.shape)}, expected [${geom.outC}] for filter ${formatShape(w.shape)}`);
  }
  const activation = opts.activation ?? 'none';
  if (activation !== 'none' && activation !== 'relu' && activation !== 'relu6') throw new Error(`${op}: unknown activation '${String(activation)}'`);
  const kernel = opts.kernel ?? {};
  const y = conv2dForwardKernel(x, w, geom, bias, activation, kernel);
  countFlops(x.runtime, convFlops(geom));
  return record(op, [x, w, bias], y, (dy) => {
    // With a fused ReLU (ReLU6) the gradient only flows where the output is positive (and below 6).
    const g = activation === 'none' ? dy : binary(activation === 'relu' ? 'reluGrad' : 'relu6Grad', y, dy);
    const grads = [
      x.requiresGrad ? conv2dInputGradKernel(g, w, geom, kernel) : null,
      w.requiresGrad ? conv2dFilterGradKernel(x, g, geom, w.shape, kernel) : null,
      bias?.requiresGrad ? conv2dBiasGradKernel(g) : null,
    ];
    countFlops(x.runtime, convFlops(geom) * ((x.requiresGrad ? 1 : 0) + (w.requiresGrad ? 1 : 0)));
    if (g !== dy) g.dispose();
    return grads;
  });
}

/**
 * 2-D convolution of x [N, H, W, Cin] with w [kh, kw, Cin/groups, Cout] (HWIO), giving
 * [N, outH, outW, Cout]; gradients flow to x, w and bias.
 */
export function conv2d(x: Tensor, w: Tensor, opts: Conv2dOptions = {}): Tensor {
  return convolve('conv2d', x, w, w.shape, opts);
}

/**
 * Depthwise convolution: x [N, H, W, C] with w [kh, kw, C, multiplier] gives [N, outH, outW,
 * C·multiplier], output channel c·multiplier + m (as tf.depthwiseConv2d). It is conv2d with
 * groups = C on the same filter memory, viewed as [kh, kw, 1, C·multiplier].
 */
export function depthwiseConv2d(x: Tensor, w: Tensor, opts: DepthwiseConv2dOptions = {}): Tensor {
  if (w.rank !== 4) throw new Error(`depthwiseConv2d: filter must have rank 4 [kh, kw, C, multiplier], got ${formatShape(w.shape)} for x ${formatShape(x.shape)}`);
  if (x.rank !== 4 || x.shape[3] !== w.shape[2]) {
    throw new Error(`depthwiseConv2d: x ${formatShape(x.shape)} must be NHWC with ${w.shape[2]} channels to match filter ${formatShape(w.shape)}`);
  }
  const [kh, kw, c, mult] = w.shape as [number, number, number, number];
  return convolve('depthwiseConv2d', x, w, [kh, kw, 1, c * mult], { ...opts, groups: c });
}

/** The geometry of the convolution whose input gradient conv2dTranspose computes. */
function transposeGeometry(x: Tensor, w: Tensor, opts: Conv2dTransposeOptions): ConvGeometry {
  const op = 'conv2dTranspose';
  if (x.rank !== 4) throw new Error(`${op}: x must be NHWC with rank 4, got ${formatShape(x.shape)} (filter ${formatShape(w.shape)})`);
  if (w.rank !== 4) throw new Error(`${op}: filter must have rank 4 [kh, kw, Cout, Cin], got ${formatShape(w.shape)} (x ${formatShape(x.shape)})`);
  const [n, h, wd, c] = x.shape as [number, number, number, number];
  const [kh, kw, cout, cin] = w.shape as [number, number, number, number];
  if (c !== cin) throw new Error(`${op}: x ${formatShape(x.shape)} has ${c} channels but filter ${formatShape(w.shape)} expects ${cin} (its last axis)`);
  const stride = opts.stride ?? 1;
  const padding = opts.padding ?? 'same';
  let outShape = opts.outputShape;
  if (!outShape) {
    if (padding === 'same') outShape = [n, h * stride, wd * stride, cout];
    else {
      const [t, b, l, r] = padding === 'valid' ? [0, 0, 0, 0] : typeof padding === 'number' ? [padding, padding, padding, padding] : padding;
      outShape = [n, (h - 1) * stride + kh - t - b, (wd - 1) * stride + kw - l - r, cout];
    }
  }
  if (outShape.length !== 4 || outShape[0] !== n || outShape[3] !== cout) {
    throw new Error(`${op}: outputShape ${formatShape(outShape)} must be [${n}, H, W, ${cout}] for x ${formatShape(x.shape)} and filter ${formatShape(w.shape)}`);
  }
  const geom = conv2dGeometry(op, outShape, w.shape, { stride, padding });
  if (geom.outH !== h || geom.outW !== wd) {
    throw new Error(`${op}: outputShape ${formatShape(outShape)} convolved with filter ${formatShape(w.shape)} gives ${geom.outH}x${geom.outW}, not x's ${h}x${wd} (x ${formatShape(x.shape)})`);
  }
  return geom;
}

/**
 * Transposed convolution (tf.conv2dTranspose): x [N, H, W, Cin], w [kh, kw, Cout, Cin] →
 * [N, H·stride, W·stride, Cout] for 'same'. It is the input gradient of conv2d(·, w) with the
 * given stride and padding, so its own gradients are a conv2d (for x) and a filter gradient (for w).
 */
export function conv2dTranspose(x: Tensor, w: Tensor, opts: Conv2dTransposeOptions = {}): Tensor {
  const geom = transposeGeometry(x, w, opts);
  const kernel = opts.kernel ?? {};
  const y = conv2dInputGradKernel(x, w, geom, kernel);
  countFlops(x.runtime, convFlops(geom));
  return record('conv2dTranspose', [x, w], y, (dy) => {
    countFlops(x.runtime, convFlops(geom) * ((x.requiresGrad ? 1 : 0) + (w.requiresGrad ? 1 : 0)));
    return [x.requiresGrad ? conv2dForwardKernel(dy, w, geom, null, false, kernel) : null, w.requiresGrad ? conv2dFilterGradKernel(dy, x, geom, w.shape, kernel) : null];
  });
}
