import { tf } from './oracle.ts';

/** Explicit pads per side: [top, bottom, left, right]. */
export type Pads4 = [number, number, number, number];

/** 'same' (3×3: one pixel each side), 'valid', one pad for every side, or four. */
export type PaddingSpec = 'same' | 'valid' | number | Pads4;

export function pads4(p: PaddingSpec): Pads4 {
  if (p === 'same') return [1, 1, 1, 1];
  if (p === 'valid') return [0, 0, 0, 0];
  return typeof p === 'number' ? [p, p, p, p] : p;
}

/** Inserts dilation-1 zeros between filter taps, so a valid tf.conv2d computes the dilated conv. */
function dilate(w: tf.Tensor, d: number): tf.Tensor {
  if (d === 1) return w;
  const [kh, kw, ci, co] = w.shape as number[];
  const expanded = tf.reshape(w, [kh!, 1, kw!, 1, ci!, co!]);
  const padded = tf.pad(expanded, [[0, 0], [0, d - 1], [0, 0], [0, d - 1], [0, 0], [0, 0]]);
  return tf.slice(tf.reshape(padded, [kh! * d, kw! * d, ci!, co!]), [0, 0, 0, 0], [(kh! - 1) * d + 1, (kw! - 1) * d + 1, ci!, co!]);
}

export interface ConvReference {
  padding: PaddingSpec;
  /** Mirror padding (no edge repeat) instead of zeros. */
  reflect?: boolean;
  stride?: number;
  dilation?: number;
  activation?: 'relu' | 'relu6';
}

/**
 * The conv oracle on tfjs-cpu, written without pastiche's padding logic: explicit padding (mirror by
 * gathers, or zeros), a valid tf.conv2d of the (dilated) filter, bias, activation. NHWC, HWIO.
 */
export function tfConvReference(c: ConvReference, x: tf.Tensor, w: tf.Tensor, b: tf.Tensor | null): tf.Tensor {
  const [t, bo, l, r] = pads4(c.padding);
  let input: tf.Tensor;
  if (c.reflect) {
    const idx = (n: number, lo: number, hi: number) =>
      Array.from({ length: n + lo + hi }, (_, q) => {
        const i = Math.abs(q - lo);
        return i >= n ? 2 * (n - 1) - i : i;
      });
    const rows = tf.gather(x, tf.tensor1d(idx(x.shape[1]!, t, bo), 'int32'), 1);
    input = tf.gather(rows, tf.tensor1d(idx(x.shape[2]!, l, r), 'int32'), 2);
  } else input = tf.pad(x, [[0, 0], [t, bo], [l, r], [0, 0]]);
  let y = tf.conv2d(input as tf.Tensor4D, dilate(w, c.dilation ?? 1) as tf.Tensor4D, (c.stride ?? 1) as 1 | 2, 'valid');
  if (b) y = tf.add(y, b);
  if (c.activation === 'relu') y = tf.relu(y);
  if (c.activation === 'relu6') y = tf.relu6(y);
  return y;
}
