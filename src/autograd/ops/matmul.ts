import { matmulKernel, matmulSumBatchKernel, type MatmulOptions } from '../../gpu/kernels/matmul.ts';
import type { Shape, Tensor } from '../../gpu/tensor.ts';
import { record } from '../tape.ts';
import { countFlops, productFlops } from './work.ts';

export type { MatmulOptions };

/** Batch size of a rank-2 (1) or rank-3 operand. */
const batchOf = (shape: Shape): number => (shape.length === 3 ? shape[0]! : 1);

/**
 * op(X)·op(Y) shaped like `target`. When the target was broadcast over the batch (rank 2, or a
 * batch of 1, while the product has more), the per-batch products are summed in the same launch.
 */
function productLike(x: Tensor, y: Tensor, transposeA: boolean, transposeB: boolean, target: Tensor, batch: number): Tensor {
  const options = { transposeA, transposeB };
  const broadcast = batchOf(target.shape) === 1 && batch > 1;
  const raw = broadcast ? matmulSumBatchKernel(x, y, options) : matmulKernel(x, y, options);
  if (raw.rank === target.rank) return raw;
  const view = raw.runtime.reshape(raw, target.shape);
  raw.dispose();
  return view;
}

/**
 * C = op(A)·op(B) for rank-2 matrices or rank-3 batches (a batch of 1, or a rank-2 operand,
 * broadcasts over the other's batch). `transposeA` / `transposeB` use Aᵀ / Bᵀ without copying.
 */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  const tA = options.transposeA ?? false;
  const tB = options.transposeB ?? false;
  const y = matmulKernel(a, b, { transposeA: tA, transposeB: tB });
  const batch = batchOf(y.shape);
  // Each gradient is a product of the same size as the forward one.
  const flops = productFlops(batch, y.shape[y.rank - 2]!, y.shape[y.rank - 1]!, tA ? a.shape[a.rank - 2]! : a.shape[a.rank - 1]!);
  countFlops(a.runtime, flops);
  return record('matmul', [a, b], y, (dy) => {
    countFlops(a.runtime, flops * ((a.requiresGrad ? 1 : 0) + (b.requiresGrad ? 1 : 0)));
    let da: Tensor | null = null;
    let db: Tensor | null = null;
    if (a.requiresGrad) {
      // Y = A·B: dA = dY·Bᵀ;  A·Bᵀ: dY·B;  Aᵀ·B: B·dYᵀ;  Aᵀ·Bᵀ: Bᵀ·dYᵀ
      if (!tA) da = productLike(dy, b, false, !tB, a, batch);
      else da = productLike(b, dy, tB, true, a, batch);
    }
    if (b.requiresGrad) {
      // Y = A·B: dB = Aᵀ·dY;  A·Bᵀ: dYᵀ·A;  Aᵀ·B: A·dY;  Aᵀ·Bᵀ: dYᵀ·Aᵀ
      if (!tB) db = productLike(a, dy, !tA, false, b, batch);
      else db = productLike(dy, a, true, tA, b, batch);
    }
    return [da, db];
  });
}
