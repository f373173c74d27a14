import { formatShape, type Shape } from '../tensor.ts';

/** NumPy broadcasting of two shapes; throws naming the op and both shapes when they don't fit. */
export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`${op}: shapes ${formatShape(a)} and ${formatShape(b)} cannot be broadcast together`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Strides of `shape` seen from an output of `outShape` it is broadcast to (0 along broadcast axes). */
export function broadcastStrides(shape: Shape, outShape: Shape): number[] {
  const strides = new Array<number>(outShape.length).fill(0);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const axis = outShape.length - shape.length + i;
    strides[axis] = shape[i] === 1 ? 0 : s;
    s *= shape[i]!;
  }
  return strides;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function assertShape(op: string, what: string, actual: Shape, expected: Shape): void {
  if (!sameShape(actual, expected)) {
    throw new Error(`${op}: ${what} has shape ${formatShape(actual)}, expected ${formatShape(expected)}`);
  }
}

export function assertRank(op: string, what: string, shape: Shape, rank: number): void {
  if (shape.length !== rank) throw new Error(`${op}: ${what} must have rank ${rank}, got shape ${formatShape(shape)}`);
}

/** Normalises possibly negative axes and checks them. */
export function normalizeAxes(op: string, axes: readonly number[], rank: number): number[] {
  const out = axes.map((a) => (a < 0 ? a + rank : a));
  for (const a of out) if (a < 0 || a >= rank) throw new Error(`${op}: axis ${a} is out of range for rank ${rank}`);
  return [...new Set(out)].sort((x, y) => x - y);
}
