import { gridFor } from '../grid.ts';
import { formatShape, type Tensor } from '../tensor.ts';
import { PAD_WG, pad2dBackwardWgsl, pad2dWgsl } from '../../shaders/pad.wgsl.ts';
import { everyCombination, kernelFamily } from '../kernel-family.ts';

const VEC = () => everyCombination({ vec: [false, true] });
const PAD2D = kernelFamily('pad2d', (p: { vec: boolean }) => pad2dWgsl(p.vec), VEC);
const PAD2D_BACKWARD = kernelFamily('pad2d_backward', (p: { vec: boolean }) => pad2dBackwardWgsl(p.vec), VEC);

export type PadMode = 'zeros' | 'reflect';
/** [top, bottom, left, right] */
export type Pads = readonly [number, number, number, number];

/** Checks an NHWC input and its pads; returns the padded shape. Throws before any dispatch. */
export function pad2dShape(op: string, shape: readonly number[], pads: readonly number[], mode: PadMode): [number, number, number, number] {
  if (shape.length !== 4) throw new Error(`${op}: x must be NHWC with rank 4, got shape ${formatShape(shape)}`);
  if (pads.length !== 4 || pads.some((v) => !Number.isInteger(v) || v < 0)) {
    throw new Error(`${op}: pads must be four non-negative integers [top, bottom, left, right], got [${pads.join(', ')}] for x ${formatShape(shape)}`);
  }
  if (mode !== 'zeros' && mode !== 'reflect') throw new Error(`${op}: unknown pad mode '${String(mode)}'`);
  const [n, h, w, c] = shape as [number, number, number, number];
  const [t, b, l, r] = pads as [number, number, number, number];
  if (mode === 'reflect' && (t >= h || b >= h || l >= w || r >= w)) {
    throw new Error(`${op}: reflect padding [${pads.join(', ')}] must be smaller than the padded dimensions of x ${formatShape(shape)} (height ${h}, width ${w})`);
  }
  return [n, h + t + b, w + l + r, c];
}

function params(inShape: readonly number[], outShape: readonly number[], pads: Pads, mode: PadMode, vec: boolean) {
  const c = inShape[3]!;
  return {
    batch: inShape[0]!,
    in_h: inShape[1]!,
    in_w: inShape[2]!,
    channels: vec ? c / 4 : c,
    out_h: outShape[1]!,
    out_w: outShape[2]!,
    top: pads[0],
    left: pads[2],
    reflect: mode === 'reflect' ? 1 : 0,
  };
}

/** Pads the spatial axes of an NHWC tensor with zeros or mirrored pixels. */
export function pad2dForward(x: Tensor, pads: Pads, mode: PadMode): Tensor {
  const outShape = pad2dShape('pad2d', x.shape, pads, mode);
  const out = x.runtime.empty(outShape);
  const vec = x.shape[3]! % 4 === 0;
  x.runtime.launch({
    ...PAD2D.program({ vec }),
    bindings: { x, y: out },
    params: params(x.shape, outShape, pads, mode, vec),
    workgroups: gridFor(out.size / (vec ? 4 : 1), PAD_WG),
  });
  return out;
}

/**
 * The gradient of pad2d: dy [N, H+t+b, W+l+r, C] → dx [N, H, W, C]. Zero padding crops; reflect
 * padding also adds the gradient of every mirrored pixel back onto its source.
 */
export function pad2dBackward(dy: Tensor, inShape: readonly number[], pads: Pads, mode: PadMode): Tensor {
  const outShape = pad2dShape('pad2d backward', inShape, pads, mode);
  if (dy.rank !== 4 || outShape.some((d, i) => d !== dy.shape[i])) {
    throw new Error(`pad2d backward: dy has shape ${formatShape(dy.shape)}, expected ${formatShape(outShape)}`);
  }
  const dx = dy.runtime.empty(inShape);
  const vec = inShape[3]! % 4 === 0;
  dy.runtime.launch({
    ...PAD2D_BACKWARD.program({ vec }),
    bindings: { dy, dx },
    params: params(inShape, outShape, pads, mode, vec),
    workgroups: gridFor(dx.size / (vec ? 4 : 1), PAD_WG),
  });
  return dx;
}
