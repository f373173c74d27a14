import { basename, extname, join } from 'node:path';
import { statSync } from 'node:fs';
import type { Runtime } from '../../gpu/runtime.ts';
import type { StoreOptions } from '../../nets/weights/store.ts';

/** Everything a method's command runner gets from `pastiche stylize`. */
export interface StylizeContext {
  runtime: Runtime;
  contents: string[];
  styles: string[];
  /** Blend weights, one per style (normalised to sum to 1). */
  styleWeights: number[];
  /** A .png file for one content image, or a folder for several. */
  output: string;
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
}

/** Where the result for `content` goes: `output` itself, or `output/<name>.png` when it is a folder. */
export function outputPathFor(ctx: StylizeContext, content: string): string {
  const isFolder = ctx.contents.length > 1 || ctx.output.endsWith('/') || (safeStat(ctx.output)?.isDirectory() ?? false);
  return isFolder ? join(ctx.output, `${basename(content, extname(content))}.png`) : ctx.output;
}

function safeStat(path: string) {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}
