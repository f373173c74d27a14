import { gridFor } from '../grid.ts';
import { formatShape, type DType, type Tensor } from '../tensor.ts';
import { CAST_WG, castWgsl } from '../../shaders/cast.wgsl.ts';
import { everyCombination, kernelFamily, STORAGE_DTYPES } from '../kernel-family.ts';

const CAST = kernelFamily('cast', (p: { from: DType; to: DType }) => castWgsl(p.from, p.to), () => everyCombination({ from: STORAGE_DTYPES, to: STORAGE_DTYPES }));

/**
 * A copy of x stored as `dtype` (a raw kernel: no gradient). Converting to the dtype x already has
 * still makes a new tensor (a copy). f16 on either side needs the adapter feature 'shader-f16'
 * (`runtime.hasF16`); without it this throws before dispatching.
 */
export function cast(x: Tensor, dtype: DType): Tensor {
  if (dtype !== 'f32' && dtype !== 'f16') throw new Error(`cast: unknown dtype ${JSON.stringify(dtype)} for ${formatShape(x.shape)}`);
  if ((dtype === 'f16' || x.dtype === 'f16') && !x.runtime.hasF16) {
    throw new Error(`cast: ${x.dtype} → ${dtype} of ${formatShape(x.shape)} needs the adapter feature 'shader-f16', which this adapter lacks`);
  }
  const out = x.runtime.empty(x.shape, dtype);
  x.runtime.launch({
    ...CAST.program({ from: x.dtype, to: dtype }),
    bindings: { src: x, dst: out },
    params: { n: x.size },
    workgroups: gridFor(x.size, CAST_WG),
  });
  return out;
}
