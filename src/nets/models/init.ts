import type { Runtime } from '../../gpu/runtime.ts';
import type { Tensor } from '../../gpu/tensor.ts';
import { SeededRandom } from '../random.ts';

/** He (Kaiming) uniform initialisation for ReLU nets: U(−b, b) with b = √(6 / fanIn). */
export function heUniform(runtime: Runtime, shape: readonly number[], fanIn: number, seed: number): Tensor {
  const rng = new SeededRandom(seed);
  const bound = Math.sqrt(6 / fanIn);
  const size = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(size);
  for (let i = 0; i < size; i++) values[i] = rng.uniform(-bound, bound);
  return runtime.upload(values, shape);
}
