/**
 * A tensor that lives in host memory: what importers produce and what the safetensors
 * writer consumes. Always float32 in memory; f16 on disk is widened on read.
 * Layout conventions for pastiche's nets (importers convert to these):
 *   conv2d kernel          [kh, kw, inPerGroup, out]   (HWIO, as TensorFlow)
 *   depthwise conv kernel  [kh, kw, in, multiplier]
 *   transposed conv kernel [kh, kw, out, in]           (as tf.conv2dTranspose)
 *   dense / matmul         [in, out]
 *   images / activations   [n, h, w, c]                (NHWC)
 */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

export type HostTensorMap = Map<string, HostTensor>;

export function hostTensor(shape: number[], data: Float32Array): HostTensor {
  const size = shape.reduce((a, b) => a * b, 1);
  if (size !== data.length) {
    throw new Error(`hostTensor: shape [${shape.join(', ')}] holds ${size} values but ${data.length} were given`);
  }
  return { shape: [...shape], data };
}
