import { biasGradWgsl, convDirectWgsl } from '../../../shaders/conv2d/direct.wgsl.ts';
import type { ConvGemmKind } from '../../../shaders/conv2d/common.wgsl.ts';
import { convNarrowWgsl, type ConvNarrowVariant } from '../../../shaders/conv2d/narrow.wgsl.ts';
import { convSubgroupWgsl, type ConvSubgroupVariant } from '../../../shaders/conv2d/subgroup.wgsl.ts';
import { convGemmWgsl, type ConvGemmVariant, type ConvTile } from '../../../shaders/conv2d/tiled.wgsl.ts';
import { convWinogradWgsl, type WinogradVariant } from '../../../shaders/conv2d/winograd.wgsl.ts';
import { everyCombination, kernelFamily } from '../../kernel-family.ts';
import { CONV_CANDIDATE_IDS, convCandidateOptions } from './candidates.ts';
import { chooseTile } from './rules.ts';

/*
 * The convolution kernel families: the WGSL of each as a function of its parameters, and the
 * parameter combinations the launching code produces.
 */

const KINDS: readonly ConvGemmKind[] = ['fwd', 'dx', 'dw'];
const BOOLS = [false, true] as const;

/** The tiles the rules and the tuning candidates use (benchmarks may force others). */
function convTiles(): ConvTile[] {
  const tiles = [1, 17, 64].map(chooseTile);
  for (const id of CONV_CANDIDATE_IDS) {
    const tile = convCandidateOptions(id).tile;
    if (tile) tiles.push(tile);
  }
  return tiles.filter((t, i) => tiles.findIndex((u) => JSON.stringify(u) === JSON.stringify(t)) === i);
}

export const CONV_TILED = kernelFamily('conv2d_tiled', (v: ConvGemmVariant) => convGemmWgsl(v), () =>
  everyCombination<ConvGemmVariant>({ kind: KINDS, tile: convTiles(), vecA: BOOLS, vecB: BOOLS, vecC: BOOLS }),
);

export const CONV_SUBGROUP = kernelFamily('conv2d_subgroup', (v: ConvSubgroupVariant) => convSubgroupWgsl(v), () => [
  ...everyCombination<ConvSubgroupVariant>({ kind: ['fwd'], tn: [8, 32], vecK: BOOLS, vecN: BOOLS, half: BOOLS, rows: [1, 2, 4] }),
  ...everyCombination<ConvSubgroupVariant>({ kind: ['dx'], tn: [8, 32], vecK: BOOLS, vecN: BOOLS, rows: [1, 2, 4] }),
  ...everyCombination<ConvSubgroupVariant>({ kind: ['dw'], tn: [8, 32], vecK: BOOLS, vecN: BOOLS }),
]);

interface DirectParams {
  kind: ConvGemmKind;
  /** f16 storage (forward only). */
  half: boolean;
}
export const CONV_DIRECT = kernelFamily('conv2d_direct', (p: DirectParams) => convDirectWgsl(p.kind, p.half), (): DirectParams[] => [
  { kind: 'fwd', half: true },
  ...everyCombination<DirectParams>({ kind: KINDS, half: [false] }),
]);

export const CONV_WINOGRAD = kernelFamily('conv2d_winograd', (v: WinogradVariant) => convWinogradWgsl(v), () =>
  [
    ...everyCombination<WinogradVariant>({ stage: ['filter'], tile: [2, 4], vec: BOOLS, half: BOOLS, flip: BOOLS }),
    ...everyCombination<WinogradVariant>({ stage: ['input', 'output'], tile: [2, 4], vec: BOOLS, half: BOOLS, flip: [false] }),
    ...everyCombination<WinogradVariant>({ stage: ['outputGrad', 'filterGrad'], tile: [2, 4], vec: BOOLS, half: [false], flip: [false] }),
  ],
);

export const CONV_NARROW = kernelFamily('conv2d_narrow', (v: ConvNarrowVariant) => convNarrowWgsl(v), () => [
  ...everyCombination<ConvNarrowVariant>({ side: ['out'], rows: [2, 4, 8], cols: [4], span: [1, 2, 3], vec: BOOLS, half: BOOLS }),
  ...everyCombination<ConvNarrowVariant>({ side: ['in'], rows: [2, 4, 8], cols: [8, 16, 32], span: [1, 2, 3], vec: BOOLS, half: BOOLS }),
]);

export const CONV_BIAS_GRAD = kernelFamily('conv2d_bias_grad', () => biasGradWgsl(), () => [{}]);
