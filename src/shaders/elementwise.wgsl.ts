import { FLAT_ENTRY_PARAMS, flatIndexWgsl } from '../gpu/grid.ts';

export const ELEMENTWISE_WG = 256;

/**
 * Unary maps: `x` is the input value, `p.a` / `p.b` two scalar parameters.
 * Each expression is the whole op, so one table drives both the kernel and its variant key.
 */
export const UNARY_EXPRESSIONS = {
  copy: 'x',
  neg: '-x',
  abs: 'abs(x)',
  relu: 'max(x, 0.0)',
  relu6: 'clamp(x, 0.0, 6.0)',
  tanh: 'tanh(x)',
  sigmoid: '1.0 / (1.0 + exp(-x))',
  sqrt: 'sqrt(x)',
  rsqrt: 'inverseSqrt(x)',
  square: 'x * x',
  exp: 'exp(x)',
  log: 'log(x)',
  clamp: 'clamp(x, p.a, p.b)',
  /** a·x + b: scalar multiply and add in one pass */
  affine: 'fma(x, p.a, p.b)',
  pow: 'pow(x, p.a)',
  fill: 'p.a',
} as const;
export type UnaryOp = keyof typeof UNARY_EXPRESSIONS;

/** Binary maps on (`a`, `b`) after broadcasting. The `*Grad` forms are backward rules of unary ops. */
export const BINARY_EXPRESSIONS = {
  add: 'a + b',
  sub: 'a - b',
  mul: 'a * b',
  div: 'a / b',
  maximum: 'max(a, b)',
  minimum: 'min(a, b)',
  /** d(relu)(x=a) · dy=b */
  reluGrad: 'select(0.0, b, a > 0.0)',
  relu6Grad: 'select(0.0, b, a > 0.0 && a < 6.0)',
  /** given y=tanh(x) as a */
  tanhGrad: 'b * (1.0 - a * a)',
  /** given y=sigmoid(x) as a */
  sigmoidGrad: 'b * a * (1.0 - a)',
  clampGrad: 'select(0.0, b, a >= p.a && a <= p.b)',
  /** given y=sqrt(x) as a */
  sqrtGrad: 'b * 0.5 / a',
  /** given y=rsqrt(x) as a */
  rsqrtGrad: '-0.5 * b * a * a * a',
  absGrad: 'b * sign(a)',
  powGrad: 'b * p.a * pow(a, p.a - 1.0)',
  logGrad: 'b / a',
} as const;
export type BinaryOp = keyof typeof BINARY_EXPRESSIONS;

function storageType(dtype: 'f32' | 'f16'): string {
  return dtype === 'f16' ? 'f16' : 'f32';
}

function header(dtype: 'f32' | 'f16'): string {
  return dtype === 'f16' ? 'enable f16;\n' : '';
}

export function unaryWgsl(op: UnaryOp, dtype: 'f32' | 'f16'): string {
  const T = storageType(dtype);
  return `${header(dtype)}
struct Params { n: u32, a: f32, b: f32 }
@group(0) @binding(0) var<storage, read> src: array<${T}>;
@group(0) @binding(1) var<storage, read_write> dst: array<${T}>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(${ELEMENTWISE_WG})
fn main(${FLAT_ENTRY_PARAMS}) {
  let i = ${flatIndexWgsl(ELEMENTWISE_WG)};
  if (i >= p.n) { return; }
  let x = f32(src[i]);
  dst[i] = ${T}(${UNARY_EXPRESSIONS[op]});
}
`;
}

/** Fill has no input: a separate entry without the `src` binding. */
export function fillWgsl(dtype: 'f32' | 'f16'): string {
  const T = storageType(dtype);
  return `${header(dtype)}
struct Params { n: u32, value: f32 }
@group(0) @binding(0) var<storage, read_write> dst: array<${T}>;
@group(0) @binding(1) var<uniform> p: Params;

@compute @workgroup_size(${ELEMENTWISE_WG})
fn main(${FLAT_ENTRY_PARAMS}) {
  let i = ${flatIndexWgsl(ELEMENTWISE_WG)};
  if (i >= p.n) { return; }
  dst[i] = ${T}(p.value);
}
`;
}

/**
 * Binary map with NumPy broadcasting. `broadcast` variants decode the output coordinate and use
 * per-operand strides (0 along broadcast axes); same-shape operands skip that work.
 */
export function binaryWgsl(op: BinaryOp, dtype: 'f32' | 'f16', broadcast: boolean): string {
  const T = storageType(dtype);
  const offsets = broadcast
    ? `
  var rest = i;
  var ia = 0u;
  var ib = 0u;
  for (var d = 7; d >= 0; d--) {
    let dim = p.out_dims[d / 4][d % 4];
    let c = rest % dim;
    rest = rest / dim;
    ia += c * p.a_strides[d / 4][d % 4];
    ib += c * p.b_strides[d / 4][d % 4];
  }`
    : `
  let ia = i;
  let ib = i;`;
  return `${header(dtype)}
struct Params {
  n: u32, a: f32, b: f32,
  out_dims: array<vec4u, 2>, a_strides: array<vec4u, 2>, b_strides: array<vec4u, 2>,
}
@group(0) @binding(0) var<storage, read> lhs: array<${T}>;
@group(0) @binding(1) var<storage, read> rhs: array<${T}>;
@group(0) @binding(2) var<storage, read_write> dst: array<${T}>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(${ELEMENTWISE_WG})
fn main(${FLAT_ENTRY_PARAMS}) {
  let i = ${flatIndexWgsl(ELEMENTWISE_WG)};
  if (i >= p.n) { return; }${offsets}
  let a = f32(lhs[ia]);
  let b = f32(rhs[ib]);
  dst[i] = ${T}(${BINARY_EXPRESSIONS[op]});
}
`;
}
