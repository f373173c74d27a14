import { keep } from '../gpu/scope.ts';
import type { GradSource, Tensor } from '../gpu/tensor.ts';

/** Gradients of an op's output with respect to each of its inputs (null: no gradient flows there). */
export type BackwardRule = (dy: Tensor) => (Tensor | null)[];

/** One recorded op: enough to run its backward rule later. */
export interface TapeNode extends GradSource {
  readonly op: string;
  readonly inputs: readonly (Tensor | null)[];
  readonly output: Tensor;
  readonly backward: BackwardRule;
  /** Tensors the op created only for its backward rule; freed with the tape. */
  readonly saved: readonly Tensor[];
}

/**
 * A record of the ops run while it is active, in execution order (which is a topological order).
 * Disposing it frees the tensors saved for backward.
 */
export class Tape {
  readonly nodes: TapeNode[] = [];
  private disposed = false;

  add(node: TapeNode): void {
    if (this.disposed) throw new Error('this tape was disposed; record a new one');
    this.nodes.push(node);
  }

  dispose(): void {
    for (const node of this.nodes) {
      for (const t of node.saved) t.dispose();
      if (node.output.gradSource === node) node.output.gradSource = null;
    }
    this.nodes.length = 0;
    this.disposed = true;
  }
}

const activeTapes: Tape[] = [];
let noGradDepth = 0;

export function currentTape(): Tape | null {
  return noGradDepth > 0 ? null : activeTapes[activeTapes.length - 1] ?? null;
}

/** Runs `block` with `tape` recording. */
export function withTape<T>(tape: Tape, block: () => T): T {
  activeTapes.push(tape);
  try {
    return block();
  } finally {
    activeTapes.pop();
  }
}

/** Runs `block` without recording anything (inference, optimiser updates, backward rules). */
export function noGrad<T>(block: () => T): T {
  noGradDepth++;
  try {
    return block();
  } finally {
    noGradDepth--;
  }
}

/** True when an op with these inputs must be recorded: a tape is on and some input wants gradients. */
export function needsGrad(...inputs: readonly (Tensor | null | undefined)[]): boolean {
  return currentTape() !== null && inputs.some((t) => t?.requiresGrad);
}

/**
 * Records an op if needed. `saved` are tensors made only for the backward rule: the tape takes
 * ownership (they leave the current scope). When nothing is recorded they are freed at once.
 */
export function record(op: string, inputs: readonly (Tensor | null)[], output: Tensor, backward: BackwardRule, saved: readonly Tensor[] = []): Tensor {
  const tape = currentTape();
  if (!tape || !inputs.some((t) => t?.requiresGrad)) {
    for (const t of saved) t.dispose();
    return output;
  }
  for (const t of saved) keep(t);
  const node: TapeNode = { op, inputs, output, backward, saved };
  output.requiresGrad = true;
  output.gradSource = node;
  tape.add(node);
  return output;
}
