/**
 * Timing one op's backward rule on its own: record the forward once (outside the timing) on a
 * tape, then each iteration calls that op's backward with a fixed upstream gradient `dy`.
 * Which gradients are computed is chosen by `requiresGrad` on the inputs (e.g. only the input for
 * an input-gradient line, only the weights for a weight-gradient line).
 */
import { Tape, withTape, type TapeNode } from '../src/autograd/tape.ts';
import type { Runtime } from '../src/gpu/runtime.ts';
import type { Tensor } from '../src/gpu/tensor.ts';
import { randomTensor } from './data.ts';
import type { Workload } from './types.ts';

export function backwardWorkload(runtime: Runtime, forward: () => Tensor, wrt: readonly Tensor[], others: readonly Tensor[] = []): Workload {
  for (const t of wrt) t.requiresGrad = true;
  const tape = new Tape();
  const y = withTape(tape, forward);
  const node = y.gradSource as TapeNode | null;
  if (!node || !tape.nodes.includes(node)) throw new Error('the forward did not record an op (do its inputs require gradients?)');
  const dy = randomTensor(runtime, y.shape, 99);
  return {
    run() {
      // Scoped by the harness: the returned gradients are freed after each iteration.
      node.backward(dy);
    },
    dispose() {
      tape.dispose();
      for (const t of [y, dy, ...wrt, ...others]) t.dispose();
    },
  };
}
