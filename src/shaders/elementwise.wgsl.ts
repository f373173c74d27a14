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

/**
 * The same unary map four elements per invocation (vec4 loads and stores) for sizes divisible by 4:
 * on CPU-emulated GPUs each invocation and each load has a fixed cost, so this is several times
 * faster there, and no slower elsewhere. `p.n` counts vec4s.
 */
export function unaryVec4Wgsl(op: UnaryOp, dtype: 'f32' | 'f16'): string {
  const T = storageType(dtype);
  return `${header(dtype)}
struct Params { n: u32, a: f32, b: f32 }
@group(0) @binding(0) var<storage, read> src: array<vec4<${T}>>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<${T}>>;
@group(0) @binding(2) var<uniform> p: Params;

fn op(x: f32) -> f32 { return ${UNARY_EXPRESSIONS[op]}; }

@compute @workgroup_size(${ELEMENTWISE_WG})
fn main(${FLAT_ENTRY_PARAMS}) {
  let i = ${flatIndexWgsl(ELEMENTWISE_WG)};
  if (i >= p.n) { return; }
  let v = vec4f(src[i]);
  dst[i] = vec4<${T}>(vec4f(op(v.x), op(v.y), op(v.z), op(v.w)));
}
`;
}

/** Same-shape binary map four elements per invocation (see unaryVec4Wgsl); `p.n` counts vec4s. */
export function binaryVec4Wgsl(op: BinaryOp, dtype: 'f32' | 'f16'): string {
  const T = storageType(dtype);
  return `${header(dtype)}
struct Params { n: u32, a: f32, b: f32 }
@group(0) @binding(0) var<storage, read> lhs: array<vec4<${T}>>;
@group(0) @binding(1) var<storage, read> rhs: array<vec4<${T}>>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec4<${T}>>;
@group(0) @binding(3) var<uniform> p: Params;

fn op(a: f32, b: f32) -> f32 { return ${BINARY_EXPRESSIONS[op]}; }

@compute @workgroup_size(${ELEMENTWISE_WG})
fn main(${FLAT_ENTRY_PARAMS}) {
  let i = ${flatIndexWgsl(ELEMENTWISE_WG)};
  if (i >= p.n) { return; }
  let a = vec4f(lhs[i]);
  let b = vec4f(rhs[i]);
  dst[i] = vec4<${T}>(vec4f(op(a.x, b.x), op(a.y, b.y), op(a.z, b.z), op(a.w, b.w)));
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
 * Binary map with NumPy broadcasting. `broadcast` variants decode the output coordinate (8 lanes)
 * and use per-operand strides (0 along broadcast axes); same-shape operands skip that work.
 * `binary` uses the broadcast form only for problems that stay above MAX_COLLAPSED_RANK axes
 * after collapsing; below that, `binaryCollapsedWgsl`.
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

/** Collapsed broadcast problems up to this rank get a specialised kernel; higher ranks use `binaryWgsl`. */
export const MAX_COLLAPSED_RANK = 4;

const isPow2 = (n: number) => n > 0 && (n & (n - 1)) === 0;

/**
 * A run of adjacent collapsed axes along which an operand is not broadcast: axes `lo..hi`
 * (outer first). Its part of the operand's index is `((i / div) % mod) * mul`, where `div` is the
 * number of output elements per step of axis `hi`, `mod` the run's extent and `mul` the operand's
 * stride along `hi`. The kernel leaves out what is always trivial: the division for a run that
 * ends at the innermost axis, the modulo for one that starts at the outermost (i / div < mod
 * there), the multiplier for the operand's last run (its innermost stride is 1). Powers of two
 * become a shift and a mask.
 */
export interface IndexRun {
  lo: number;
  hi: number;
  div: number;
  mod: number;
  mul: number;
}

/** The runs of an operand with `strides` (0 where broadcast) along the collapsed output `dims`. */
export function indexRuns(dims: readonly number[], strides: readonly number[]): IndexRun[] {
  const runs: IndexRun[] = [];
  strides.forEach((s, axis) => {
    if (s === 0) return;
    const last = runs[runs.length - 1];
    if (last && last.hi === axis - 1) last.hi = axis;
    else runs.push({ lo: axis, hi: axis, div: 1, mod: 1, mul: 1 });
  });
  for (const run of runs) {
    run.div = dims.slice(run.hi + 1).reduce((p, d) => p * d, 1);
    run.mod = dims.slice(run.lo, run.hi + 1).reduce((p, d) => p * d, 1);
    run.mul = strides[run.hi]!;
  }
  return runs;
}

/** Which parts of each run the kernel computes, in order: [run][division, modulo, multiply]. */
function runParts(runs: readonly { lo: number; hi: number }[], rank: number): [boolean, boolean, boolean][] {
  return runs.map((run, r) => [run.hi < rank - 1, run.lo > 0, r < runs.length - 1]);
}

/**
 * What `binaryCollapsedWgsl` reads of a run: its axes, and whether its division and modulo are by
 * powers of two (false where the kernel leaves that part out, so equal code has equal shapes).
 */
export interface RunShape {
  lo: number;
  hi: number;
  pow2Div: boolean;
  pow2Mod: boolean;
}

/** The shapes of an operand's runs over a collapsed output of `rank` axes. */
export function runShapes(runs: readonly IndexRun[], rank: number): RunShape[] {
  const parts = runParts(runs, rank);
  return runs.map((run, r) => ({ lo: run.lo, hi: run.hi, pow2Div: parts[r]![0] && isPow2(run.div), pow2Mod: parts[r]![1] && isPow2(run.mod) }));
}

/**
 * Uniform values of an operand's runs for `binaryCollapsedWgsl`: per run [div, mod, mul, 0], with
 * log2(div) for a shift and mod − 1 for a mask.
 */
export function runUniforms(runs: readonly IndexRun[]): number[] {
  return runs.flatMap((run) => [isPow2(run.div) ? Math.log2(run.div) : run.div, isPow2(run.mod) ? run.mod - 1 : run.mod, run.mul, 0]);
}

function runIndexExpr(runs: readonly RunShape[], rank: number, field: string): string {
  if (runs.length === 0) return '0u';
  const parts = runParts(runs, rank);
  return runs
    .map((run, r) => {
      const [div, mod, mul] = parts[r]!;
      const u = `p.${field}[${r}]`;
      let t = 'i';
      if (div) t = run.pow2Div ? `(i >> ${u}.x)` : `(i / ${u}.x)`;
      if (mod) t = run.pow2Mod ? `(${t} & ${u}.y)` : `(${t} % ${u}.y)`;
      if (mul) t = `${t} * ${u}.z`;
      return t;
    })
    .join(' + ');
}

/**
 * Binary map over a broadcast problem collapsed to at most MAX_COLLAPSED_RANK axes (see
 * `collapseBroadcast`), specialised to the broadcast pattern (see `IndexRun`): each operand's
 * index is a sum of at most two `((i / div) % mod) * mul` terms. The common cases need one
 * division or modulo at most: a scalar operand reads element 0, a trailing vector
 * (`[N·H·W, C] − [C]`) `i % C`, a leading repeat (`[M, K] · [M, 1]`) `i / K`, and
 * `[N, H·W, C] · [N, 1, C]` `(i / (H·W·C)) * C + i % C`.
 */
export function binaryCollapsedWgsl(op: BinaryOp, dtype: 'f32' | 'f16', rank: number, a: readonly RunShape[], b: readonly RunShape[]): string {
  const T = storageType(dtype);
  return `${header(dtype)}
struct Params { n: u32, a: f32, b: f32, a_runs: array<vec4u, 2>, b_runs: array<vec4u, 2> }
@group(0) @binding(0) var<storage, read> lhs: array<${T}>;
@group(0) @binding(1) var<storage, read> rhs: array<${T}>;
@group(0) @binding(2) var<storage, read_write> dst: array<${T}>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(${ELEMENTWISE_WG})
fn main(${FLAT_ENTRY_PARAMS}) {
  let i = ${flatIndexWgsl(ELEMENTWISE_WG)};
  if (i >= p.n) { return; }
  let ia = ${runIndexExpr(a, rank, 'a_runs')};
  let ib = ${runIndexExpr(b, rank, 'b_runs')};
  let a = f32(lhs[ia]);
  let b = f32(rhs[ib]);
  dst[i] = ${T}(${BINARY_EXPRESSIONS[op]});
}
`;
}
