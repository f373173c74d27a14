import type { ConvTile } from '../../../shaders/conv2d/tiled.wgsl.ts';
import { tuningNoise, type TuneJob } from '../../autotune.ts';
import type { Runtime } from '../../runtime.ts';
import type { Tensor } from '../../tensor.ts';
import type { ConvGeometry } from './geometry.ts';
import { winogradInputGradRuns, winogradRuns } from './winograd-fit.ts';
import { hasEightWideSubgroups, narrowRuns, ruleChoice, type ConvChoice, type ConvKernelOptions, type ConvKind } from './rules.ts';

/*
 * The convolution candidates the tuner times, and the choice for a launch: forced by options, tuned
 * for the shape on this adapter, or else the rule.
 */

const tile4 = (tm: number, tn: number): ConvTile => ({ tm, tn, tk: 16, rm: 4, rn: 4 });

/** Every variant the tuner may choose, by the id stored in the tuning cache. */
const CONV_CHOICES: Record<string, ConvChoice> = {
  'subgroup/32': { algorithm: 'subgroup', subgroupWidth: 32, subgroupRows: 4 },
  'subgroup/8': { algorithm: 'subgroup', subgroupWidth: 8, subgroupRows: 4 },
  'subgroup/32r2': { algorithm: 'subgroup', subgroupWidth: 32, subgroupRows: 2 },
  'subgroup/32r1': { algorithm: 'subgroup', subgroupWidth: 32, subgroupRows: 1 },
  'tiled/64x64': { algorithm: 'tiled', tile: tile4(64, 64) },
  'tiled/128x32': { algorithm: 'tiled', tile: tile4(128, 32) },
  'tiled/128x16': { algorithm: 'tiled', tile: tile4(128, 16) },
  direct: { algorithm: 'direct' },
  'winograd/2x2': { algorithm: 'winograd', winogradTile: 2 },
  'winograd/4x4': { algorithm: 'winograd', winogradTile: 4 },
  'narrow/r2': { algorithm: 'narrow', narrowRows: 2, narrowCols: 16 },
  'narrow/r4': { algorithm: 'narrow', narrowRows: 4, narrowCols: 16 },
  'narrow/r8': { algorithm: 'narrow', narrowRows: 8, narrowCols: 16 },
  'narrow/r4c32': { algorithm: 'narrow', narrowRows: 4, narrowCols: 32 },
  'narrow/r8c8': { algorithm: 'narrow', narrowRows: 8, narrowCols: 8 },
};

/** Every candidate id, whatever the adapter. */
export const CONV_CANDIDATE_IDS: readonly string[] = Object.keys(CONV_CHOICES);

/**
 * The candidate ids this adapter can run (for f16 tensors: the kernels with an f16-storage
 * variant); with a pass and geometry, only those that run that shape.
 */
export function convCandidateIds(runtime: Runtime, half = false, shape?: { kind: ConvKind; g: ConvGeometry }): string[] {
  return Object.keys(CONV_CHOICES).filter((id) => choiceRuns(runtime, CONV_CHOICES[id]!, half, shape));
}

function choiceRuns(runtime: Runtime, choice: ConvChoice, half: boolean, shape?: { kind: ConvKind; g: ConvGeometry }): boolean {
  const algorithm = choice.algorithm;
  if ((algorithm === 'subgroup' || algorithm === 'narrow') && !hasEightWideSubgroups(runtime)) return false;
  if (algorithm === 'narrow') {
    if (shape === undefined) return true;
    // Its column tile only matters with few input channels: with few outputs the variants that differ in it alone are one.
    return shape.kind === 'fwd' && narrowRuns(shape.g) && (shape.g.coutG > 4 || choice.narrowCols === 16);
  }
  if (algorithm === 'winograd') {
    const m = choice.winogradTile ?? 2;
    if (shape === undefined) return true;
    if (shape.kind === 'dx') return winogradInputGradRuns(runtime, shape.g, m);
    return winogradRuns(runtime, shape.g, m) && (shape.kind === 'fwd' || !half);
  }
  // The filter gradient has one row count: its variants of fewer rows would time the same kernel again.
  if (shape?.kind === 'dw' && choice.subgroupRows !== undefined && choice.subgroupRows !== 4) return false;
  return !half || algorithm !== 'tiled';
}

/** Kernel options that force a candidate (tests, bench, the tuner). */
export function convCandidateOptions(id: string): ConvKernelOptions {
  const c = CONV_CHOICES[id];
  if (!c) throw new Error(`conv2d: unknown variant '${id}' (known: ${Object.keys(CONV_CHOICES).join(', ')})`);
  return {
    algorithm: c.algorithm,
    ...(c.tile ? { tile: c.tile } : {}),
    ...(c.subgroupWidth ? { subgroupWidth: c.subgroupWidth } : {}),
    ...(c.subgroupRows ? { subgroupRows: c.subgroupRows } : {}),
    ...(c.winogradTile ? { winogradTile: c.winogradTile } : {}),
    ...(c.narrowRows ? { narrowRows: c.narrowRows } : {}),
    ...(c.narrowCols ? { narrowCols: c.narrowCols } : {}),
  };
}

/**
 * The shape class a tuned choice applies to: pass, window, stride, dilation, groups and channels
 * exactly, output pixels (batch included) to the nearest power of two.
 */
export function convShapeKey(kind: ConvKind, g: ConvGeometry, half = false): string {
  const pixels = g.batch * g.outH * g.outW;
  const extra = `${g.dilation > 1 ? ` d${g.dilation}` : ''}${g.groups > 1 ? ` g${g.groups}` : ''}`;
  return `${kind} ${g.kH}x${g.kW} s${g.stride}${extra} ${g.cinG}>${g.coutG} px2^${Math.round(Math.log2(pixels))}${half ? ' f16' : ''}`;
}/** The kernels a tuning job times; passed in so that tuning does not import the kernels it tunes. */
export interface ConvKernels {
  forward(x: Tensor, w: Tensor, g: ConvGeometry, bias: null, activation: 'none', options: ConvKernelOptions): Tensor;
  inputGrad(dy: Tensor, w: Tensor, g: ConvGeometry, options: ConvKernelOptions): Tensor;
  filterGrad(x: Tensor, dy: Tensor, g: ConvGeometry, wShape: readonly number[], options: ConvKernelOptions): Tensor;
}

/** The kernel for one launch: the forced algorithm, else the tuned candidate, else the rule. */
export function pickAlgorithm(runtime: Runtime, kind: ConvKind, g: ConvGeometry, options: ConvKernelOptions, kernels: ConvKernels, half = false): ConvChoice {
  // Winograd computes the forward pass, the filter gradient and most input gradients: forced on a
  // conv op, an input gradient it cannot compute (a pad over 2) chooses as without it.
  const gradientWithoutWinograd = options.algorithm === 'winograd' && kind !== 'fwd' && !choiceRuns(runtime, { algorithm: 'winograd', winogradTile: options.winogradTile }, half, { kind, g });
  // 'narrow' is forward only: its gradients choose as without it.
  const gradientWithoutNarrow = options.algorithm === 'narrow' && kind !== 'fwd';
  const algorithm = gradientWithoutWinograd || gradientWithoutNarrow ? 'auto' : (options.algorithm ?? 'auto');
  if (algorithm === 'narrow' && !hasEightWideSubgroups(runtime)) {
    throw new Error("conv2d: algorithm 'narrow' needs the 'subgroups' feature with 8-wide subgroups");
  }
  if (algorithm === 'narrow' && !narrowRuns(g)) {
    throw new Error(`conv2d: algorithm 'narrow' needs groups 1 and at most 4 output or input channels, got ${g.cinG} → ${g.coutG} in ${g.groups} group(s); use 'auto'`);
  }
  if (algorithm === 'subgroup' && !hasEightWideSubgroups(runtime)) {
    throw new Error("conv2d: algorithm 'subgroup' needs the 'subgroups' feature with 8-wide subgroups");
  }
  if (half && algorithm === 'tiled') throw new Error("conv2d: the 'tiled' kernels are f32 only; f16 tensors run 'subgroup' or 'direct'");
  const overrides = {
    tile: options.tile,
    subgroupWidth: options.subgroupWidth,
    subgroupRows: options.subgroupRows,
    winogradTile: options.winogradTile,
    narrowRows: options.narrowRows,
    narrowCols: options.narrowCols,
  };
  if (algorithm !== 'auto') return { algorithm, ...overrides };
  if (options.tile || options.subgroupWidth || options.subgroupRows) return { ...ruleChoice(runtime, kind, g, half), ...overrides };
  const tuning = runtime.tuning;
  const shape = convShapeKey(kind, g, half);
  if (tuning.capturing) tuning.offer('conv2d', shape, () => convTuneJob(runtime, kind, g, kernels, half));
  const tuned = tuning.lookup('conv2d', shape);
  const choice = tuned === undefined ? undefined : CONV_CHOICES[tuned];
  // An id from another version of pastiche, or a kernel this device or dtype cannot run: the rule.
  if (choice && choiceRuns(runtime, choice, half, { kind, g })) return choice;
  return ruleChoice(runtime, kind, g, half);
}

/** Inputs of geometry `g` and one launch per candidate variant, for the tuner (`half`: f16 tensors, forward only). */
export function convTuneJob(runtime: Runtime, kind: ConvKind, g: ConvGeometry, kernels: ConvKernels, half = false): TuneJob {
  const dtype = half ? 'f16' : 'f32';
  const x = tuningNoise(runtime, [g.batch, g.inH, g.inW, g.inC], 1, dtype);
  const w = tuningNoise(runtime, [g.kH, g.kW, g.cinG, g.outC], 2, dtype);
  const dy = tuningNoise(runtime, [g.batch, g.outH, g.outW, g.outC], 3);
  const candidates = convCandidateIds(runtime, half, { kind, g }).map((id) => {
    const forced = convCandidateOptions(id);
    const run =
      kind === 'fwd'
        ? () => void kernels.forward(x, w, g, null, 'none', forced)
        : kind === 'dx'
          ? () => void kernels.inputGrad(dy, w, g, forced)
          : () => void kernels.filterGrad(x, dy, g, w.shape, forced);
    return { id, run };
  });
  return { candidates, dispose: () => [x, w, dy].forEach((t) => t.dispose()) };
}