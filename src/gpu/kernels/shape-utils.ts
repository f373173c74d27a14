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

/**
 * A broadcast problem in its smallest equivalent form: the output's axes without size-1 axes,
 * adjacent axes merged where every operand is contiguous across both (or broadcast along both),
 * and each operand's element stride along every remaining axis (0 where it is broadcast).
 * `[2, 7, 5, 3] − [3]` becomes dims `[70, 3]` with strides `[[3, 1], [0, 1]]`.
 */
export interface CollapsedBroadcast {
  dims: number[];
  strides: number[][];
}

export function collapseBroadcast(outShape: Shape, operands: readonly Shape[]): CollapsedBroadcast {
  const all = operands.map((s) => broadcastStrides(s, outShape));
  const dims: number[] = [];
  const strides: number[][] = operands.map(() => []);
  for (let axis = 0; axis < outShape.length; axis++) {
    const d = outShape[axis]!;
    if (d === 1) continue;
    const last = dims.length - 1;
    // Axis `last` then `axis` merge when, for every operand, a step along `last` is `d` steps along `axis`.
    if (last >= 0 && all.every((s, k) => strides[k]![last] === s[axis]! * d)) {
      dims[last]! *= d;
      strides.forEach((s, k) => (s[last] = all[k]![axis]!));
    } else {
      dims.push(d);
      strides.forEach((s, k) => s.push(all[k]![axis]!));
    }
  }
  return { dims, strides };
}

/**
 * The axes of a reduction in their smallest equivalent form: size-1 axes dropped and adjacent axes
 * of the same kind (both reduced or both kept) merged, outer first. A row-major tensor stays
 * row-major, so `[N, H, W, C]` reduced over `[0, 1, 2]` becomes `dims [N·H·W, C]`,
 * `reduced [true, false]`. An empty list means a single element.
 */
export interface CollapsedReduction {
  dims: number[];
  reduced: boolean[];
}

export function collapseReduction(shape: Shape, axes: readonly number[]): CollapsedReduction {
  const dims: number[] = [];
  const reduced: boolean[] = [];
  shape.forEach((d, axis) => {
    if (d === 1) return;
    const r = axes.includes(axis);
    if (reduced.length > 0 && reduced[reduced.length - 1] === r) dims[dims.length - 1]! *= d;
    else {
      dims.push(d);
      reduced.push(r);
    }
  });
  return { dims, reduced };
}
