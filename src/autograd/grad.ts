import { binary, fill } from '../gpu/kernels/elementwise.ts';
import { scope } from '../gpu/scope.ts';
import { formatShape, type Tensor } from '../gpu/tensor.ts';
import { noGrad, Tape, withTape, type TapeNode } from './tape.ts';

/** Nodes that lead to `output`, in reverse topological order (outputs before the ops that feed them). */
function reverseTopological(output: Tensor, tape: Tape): TapeNode[] {
  const onTape = new Set(tape.nodes);
  const reachable = new Set<TapeNode>();
  const stack: TapeNode[] = [];
  const start = output.gradSource as TapeNode | null;
  if (start && onTape.has(start)) stack.push(start);
  while (stack.length) {
    const node = stack.pop()!;
    if (reachable.has(node)) continue;
    reachable.add(node);
    for (const input of node.inputs) {
      const source = input?.gradSource as TapeNode | null | undefined;
      if (source && onTape.has(source) && !reachable.has(source)) stack.push(source);
    }
  }
  // The tape holds nodes in execution order, which is already topological.
  return tape.nodes.filter((n) => reachable.has(n)).reverse();
}

/**
 * Backpropagates from `output` through the nodes on `tape` and returns d(output)/d(x) for each
 * tensor in `wrt` (zeros where it does not influence the output). `seed` defaults to ones.
 */
export function backward(tape: Tape, output: Tensor, wrt: readonly Tensor[], seed?: Tensor): Tensor[] {
  return noGrad(() => {
    const grads = new Map<Tensor, Tensor>();
    const wanted = new Set(wrt);
    grads.set(output, seed ?? fill(output.runtime, output.shape, 1));
    for (const node of reverseTopological(output, tape)) {
      const dy = grads.get(node.output);
      if (!dy) continue;
      const inputGrads = node.backward(dy);
      if (!wanted.has(node.output)) {
        grads.delete(node.output);
        if (dy !== seed) dy.dispose();
      }
      node.inputs.forEach((input, i) => {
        const g = inputGrads[i];
        if (!input || !g) {
          g?.dispose();
          return;
        }
        if (!input.requiresGrad) {
          g.dispose();
          return;
        }
        if (g.size !== input.size) {
          throw new Error(`${node.op} backward: gradient ${formatShape(g.shape)} does not match input ${formatShape(input.shape)}`);
        }
        const existing = grads.get(input);
        if (existing) {
          // A tensor used more than once gets the sum of its gradients.
          grads.set(input, binary('add', existing, g));
          existing.dispose();
          g.dispose();
        } else {
          grads.set(input, g);
        }
      });
    }
    const result = wrt.map((x) => {
      const g = grads.get(x);
      grads.delete(x);
      if (!g) return fill(x.runtime, x.shape, 0);
      return g.shape.length === x.shape.length && g.shape.every((d, i) => d === x.shape[i]) ? g : reshapeGrad(g, x);
    });
    for (const g of grads.values()) if (g !== seed) g.dispose();
    return result;
  });
}

function reshapeGrad(g: Tensor, x: Tensor): Tensor {
  const view = g.runtime.reshape(g, x.shape);
  g.dispose();
  return view;
}

export interface ValueAndGrads {
  value: Tensor;
  grads: Tensor[];
}

/**
 * Runs `f` on a tape and returns its (scalar or seeded) value with the gradients for `params`.
 * Every intermediate tensor is freed; only the value and the gradients are returned.
 */
export function valueAndGradOf(f: () => Tensor, params: readonly Tensor[]): ValueAndGrads {
  const previous = params.map((p) => p.requiresGrad);
  for (const p of params) p.requiresGrad = true;
  const tape = new Tape();
  try {
    return scope(() => {
      const value = withTape(tape, f);
      const grads = backward(tape, value, params);
      return { value, grads };
    });
  } finally {
    tape.dispose();
    params.forEach((p, i) => (p.requiresGrad = previous[i]!));
  }
}

/** `valueAndGrad(f)(...args)`: f's value and its gradient with respect to every argument. */
export function valueAndGrad<Args extends Tensor[]>(f: (...args: Args) => Tensor): (...args: Args) => ValueAndGrads {
  return (...args: Args) => valueAndGradOf(() => f(...args), args);
}

/** `grad(f)(...args)`: the gradients of f with respect to every argument (the value is freed). */
export function grad<Args extends Tensor[]>(f: (...args: Args) => Tensor): (...args: Args) => Tensor[] {
  return (...args: Args) => {
    const { value, grads } = valueAndGradOf(() => f(...args), args);
    value.dispose();
    return grads;
  };
}
