import { pad2dBackward, pad2dForward, type PadMode, type Pads } from '../../gpu/kernels/pad.ts';
import type { Tensor } from '../../gpu/tensor.ts';
import { record } from '../tape.ts';

export type { PadMode, Pads } from '../../gpu/kernels/pad.ts';

/**
 * Pads the spatial axes of x [N, H, W, C] by [top, bottom, left, right] with zeros or the mirror
 * image of the input (reflect: no edge repeat, each pad smaller than its dimension).
 * The gradient crops (zeros) or also folds mirrored pixels back onto their sources (reflect).
 */
export function pad2d(x: Tensor, pads: Pads, mode: PadMode = 'zeros'): Tensor {
  const y = pad2dForward(x, pads, mode);
  return record('pad2d', [x], y, (dy) => [pad2dBackward(dy, x.shape, pads, mode)]);
}
