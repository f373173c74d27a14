import { binary, fill, unary } from '../../gpu/kernels/elementwise.ts';
import { sumToShape } from '../../gpu/kernels/reduce.ts';
import type { Tensor } from '../../gpu/tensor.ts';
import { needsGrad, record } from '../tape.ts';

/** Reduces a gradient to an input's shape after broadcasting, freeing the unreduced one. */
function unbroadcast(g: Tensor, like: Tensor): Tensor {
  const r = sumToShape(g, like.shape);
  if (r !== g) g.dispose();
  return r;
}

export function add(a: Tensor, b: Tensor): Tensor {
  return record('add', [a, b], binary('add', a, b), (dy) => [
    a.requiresGrad ? sumToShape(dy, a.shape) : null,
    b.requiresGrad ? sumToShape(dy, b.shape) : null,
  ]);
}

export function sub(a: Tensor, b: Tensor): Tensor {
  return record('sub', [a, b], binary('sub', a, b), (dy) => [
    a.requiresGrad ? sumToShape(dy, a.shape) : null,
    b.requiresGrad ? unbroadcast(unary('neg', dy), b) : null,
  ]);
}

export function mul(a: Tensor, b: Tensor): Tensor {
  return record('mul', [a, b], binary('mul', a, b), (dy) => [
    a.requiresGrad ? unbroadcast(binary('mul', dy, b), a) : null,
    b.requiresGrad ? unbroadcast(binary('mul', dy, a), b) : null,
  ]);
}

export function div(a: Tensor, b: Tensor): Tensor {
  const out = binary('div', a, b);
  return record('div', [a, b], out, (dy) => [
    a.requiresGrad ? unbroadcast(binary('div', dy, b), a) : null,
    // d(a/b)/db = -(a/b)/b
    b.requiresGrad ? unbroadcast(negDivMul(dy, out, b), b) : null,
  ]);
}

function negDivMul(dy: Tensor, quotient: Tensor, b: Tensor): Tensor {
  const t = binary('mul', dy, quotient);
  const u = binary('div', t, b);
  t.dispose();
  const v = unary('neg', u);
  u.dispose();
  return v;
}

export function maximum(a: Tensor, b: Tensor): Tensor {
  if (needsGrad(a, b)) throw new Error('maximum: gradients are not implemented; use relu or clamp');
  return binary('maximum', a, b);
}

/** a·x + b with scalars: covers scalar multiply, add and subtract. */
export function affine(x: Tensor, scale: number, shift = 0): Tensor {
  return record('affine', [x], unary('affine', x, scale, shift), (dy) => [unary('affine', dy, scale, 0)]);
}

export const scale = (x: Tensor, s: number): Tensor => affine(x, s, 0);
export const addScalar = (x: Tensor, s: number): Tensor => affine(x, 1, s);

export function neg(x: Tensor): Tensor {
  return record('neg', [x], unary('neg', x), (dy) => [unary('neg', dy)]);
}

/** Backward rules that use the input x. */
function fromInput(op: 'relu' | 'relu6' | 'clamp' | 'abs' | 'log', grad: 'reluGrad' | 'relu6Grad' | 'clampGrad' | 'absGrad' | 'logGrad', x: Tensor, a = 0, b = 0): Tensor {
  return record(op, [x], unary(op, x, a, b), (dy) => [binary(grad, x, dy, a, b)]);
}

/** Backward rules that use the output y (cheaper: no recomputation). */
function fromOutput(op: 'tanh' | 'sigmoid' | 'sqrt' | 'rsqrt', grad: 'tanhGrad' | 'sigmoidGrad' | 'sqrtGrad' | 'rsqrtGrad', x: Tensor): Tensor {
  const y = unary(op, x);
  return record(op, [x], y, (dy) => [binary(grad, y, dy)]);
}

export const relu = (x: Tensor): Tensor => fromInput('relu', 'reluGrad', x);
export const relu6 = (x: Tensor): Tensor => fromInput('relu6', 'relu6Grad', x);
export const clamp = (x: Tensor, lo: number, hi: number): Tensor => fromInput('clamp', 'clampGrad', x, lo, hi);
export const abs = (x: Tensor): Tensor => fromInput('abs', 'absGrad', x);
export const log = (x: Tensor): Tensor => fromInput('log', 'logGrad', x);
export const tanh = (x: Tensor): Tensor => fromOutput('tanh', 'tanhGrad', x);
export const sigmoid = (x: Tensor): Tensor => fromOutput('sigmoid', 'sigmoidGrad', x);
export const sqrt = (x: Tensor): Tensor => fromOutput('sqrt', 'sqrtGrad', x);
export const rsqrt = (x: Tensor): Tensor => fromOutput('rsqrt', 'rsqrtGrad', x);

export function exp(x: Tensor): Tensor {
  const y = unary('exp', x);
  return record('exp', [x], y, (dy) => [binary('mul', dy, y)]);
}

export function square(x: Tensor): Tensor {
  return record('square', [x], unary('square', x), (dy) => {
    const twoX = unary('affine', x, 2, 0);
    const g = binary('mul', dy, twoX);
    twoX.dispose();
    return [g];
  });
}

export function pow(x: Tensor, exponent: number): Tensor {
  return record('pow', [x], unary('pow', x, exponent), (dy) => [binary('powGrad', x, dy, exponent)]);
}

export function zeros(runtime: Tensor['runtime'], shape: readonly number[]): Tensor {
  return fill(runtime, shape, 0);
}

export function ones(runtime: Tensor['runtime'], shape: readonly number[]): Tensor {
  return fill(runtime, shape, 1);
}
