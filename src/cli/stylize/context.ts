import type { Runtime } from '../../gpu/runtime.ts';
import type { StoreOptions } from '../../nets/weights/node/store.ts';
import type { StylizeBatch } from './batch.ts';

/** Everything a method's command runner gets from `pastiche stylize`. */
export interface StylizeContext {
  runtime: Runtime;
  contents: string[];
  styles: string[];
  /** Blend weights, one per style (normalised to sum to 1). */
  styleWeights: number[];
  /** The -o path: an image file for one content image, or a folder for several. */
  output: string;
  /** Each content image with its checked output path; runners do their per-image work through `batch.forEach`. */
  batch: StylizeBatch;
  options: StylizeOptions;
  store: StoreOptions;
}

/** The parsed command-line options (each method reads the ones it understands). */
export interface StylizeOptions {
  method: string;
  size?: number;
  model?: string;
  iterations: number;
  optimizer: 'lbfgs' | 'adam';
  contentWeight: number;
  styleWeightScale: number;
  tvWeight: number;
  init: 'content' | 'style' | 'noise';
  seed: number;
  preserveColor?: string;
  scales: number;
  styleScale: number;
  saveEvery?: number;
  pooling: 'max' | 'avg';
  learningRate?: number;
  alpha: number;
  strength: number;
  mask?: string;
  decoder?: string;
  tile?: number;
  /** wct: encoder/decoder levels, coarse to fine. */
  levels?: number[];
}
