import { formatShape } from '../../tensor.ts';
import type { PadMode } from '../pad.ts';

/** 'valid', TensorFlow 'same', one pad for every side, or [top, bottom, left, right]. */
export type ConvPadding = 'valid' | 'same' | number | readonly [number, number, number, number];

export interface ConvGeometryOptions {
  stride?: number;
  padding?: ConvPadding;
  padMode?: PadMode;
  groups?: number;
  dilation?: number;
}

/** Everything a convolution kernel needs to know about shapes, in forward-conv terms (x → y). */
export interface ConvGeometry {
  batch: number;
  inH: number;
  inW: number;
  inC: number;
  outH: number;
  outW: number;
  outC: number;
  kH: number;
  kW: number;
  stride: number;
  dilation: number;
  /** [top, bottom, left, right] */
  pads: [number, number, number, number];
  padMode: PadMode;
  groups: number;
  cinG: number;
  coutG: number;
}

/**
 * Checks x [N, H, W, Cin] against a filter [kh, kw, Cin/groups, Cout] and resolves padding and the
 * output size. Every shape problem throws here, naming `op` and the shapes, before any dispatch.
 */
export function conv2dGeometry(op: string, xShape: readonly number[], wShape: readonly number[], opts: ConvGeometryOptions = {}): ConvGeometry {
  const shapes = `x ${formatShape(xShape)}, filter ${formatShape(wShape)}`;
  if (xShape.length !== 4) throw new Error(`${op}: x must be NHWC with rank 4 (${shapes})`);
  if (wShape.length !== 4) throw new Error(`${op}: filter must have rank 4 [kh, kw, in, out] (${shapes})`);
  const stride = opts.stride ?? 1;
  const dilation = opts.dilation ?? 1;
  const groups = opts.groups ?? 1;
  const padMode = opts.padMode ?? 'zeros';
  if (stride !== 1 && stride !== 2) throw new Error(`${op}: stride must be 1 or 2, got ${stride} (${shapes})`);
  if (!Number.isInteger(dilation) || dilation < 1) throw new Error(`${op}: dilation must be a positive integer, got ${dilation} (${shapes})`);
  if (!Number.isInteger(groups) || groups < 1) throw new Error(`${op}: groups must be a positive integer, got ${groups} (${shapes})`);
  if (padMode !== 'zeros' && padMode !== 'reflect') throw new Error(`${op}: unknown padMode '${String(padMode)}'`);
  const [batch, inH, inW, inC] = xShape as [number, number, number, number];
  const [kH, kW, cinG, outC] = wShape as [number, number, number, number];
  if (kH < 1 || kW < 1 || outC < 1) throw new Error(`${op}: filter has an empty dimension (${shapes})`);
  if (inC % groups !== 0 || outC % groups !== 0) {
    throw new Error(`${op}: ${groups} groups must divide both ${inC} input and ${outC} output channels (${shapes})`);
  }
  if (cinG !== inC / groups) {
    throw new Error(`${op}: filter expects ${cinG} input channels per group but x has ${inC} channels in ${groups} group(s) (${shapes})`);
  }
  const effH = (kH - 1) * dilation + 1;
  const effW = (kW - 1) * dilation + 1;
  const padding = opts.padding ?? 'valid';
  let pads: [number, number, number, number];
  if (padding === 'valid') pads = [0, 0, 0, 0];
  else if (padding === 'same') {
    const th = Math.max((Math.ceil(inH / stride) - 1) * stride + effH - inH, 0);
    const tw = Math.max((Math.ceil(inW / stride) - 1) * stride + effW - inW, 0);
    pads = [Math.floor(th / 2), th - Math.floor(th / 2), Math.floor(tw / 2), tw - Math.floor(tw / 2)];
  } else if (typeof padding === 'number') pads = [padding, padding, padding, padding];
  else if (Array.isArray(padding) && padding.length === 4) pads = [...padding] as [number, number, number, number];
  else throw new Error(`${op}: padding must be 'valid', 'same', a number or [top, bottom, left, right], got ${JSON.stringify(padding)}`);
  if (pads.some((v) => !Number.isInteger(v) || v < 0)) throw new Error(`${op}: padding must be non-negative integers, got [${pads.join(', ')}] (${shapes})`);
  if (padMode === 'reflect' && (pads[0] >= inH || pads[1] >= inH || pads[2] >= inW || pads[3] >= inW)) {
    throw new Error(`${op}: reflect padding [${pads.join(', ')}] must be smaller than the input's height ${inH} and width ${inW} (${shapes})`);
  }
  const outH = Math.floor((inH + pads[0] + pads[1] - effH) / stride) + 1;
  const outW = Math.floor((inW + pads[2] + pads[3] - effW) / stride) + 1;
  if (outH < 1 || outW < 1 || batch < 1) {
    throw new Error(`${op}: the ${effH}x${effW} window does not fit the padded input (${shapes}, pads [${pads.join(', ')}])`);
  }
  return { batch, inH, inW, inC, outH, outW, outC, kH, kW, stride, dilation, pads, padMode, groups, cinG, coutG: outC / groups };
}
