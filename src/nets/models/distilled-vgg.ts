/**
 * The Collaborative-Distillation nets (Wang et al. 2020): VGG-19 encoders to relu{n}_1 with a quarter
 * of the channels ("16x" fewer weights), and the decoders trained to invert each of them, for levels
 * n = 1..5. Weights come from `weights/formats/distilled-vgg-checkpoints.ts` (`enc{n}.conv11.weight`, HWIO).
 *
 * Encoder n: a learned 1×1 `conv0` (RGB 0..1 → mean-subtracted BGR 0..255), then 3×3 convs with
 * reflection padding and ReLU, 2×2 max pools between blocks. Decoder n mirrors it with nearest 2×
 * upsampling, ReLU after every conv including the last (so outputs are ≥ 0, RGB ≈ 0..1).
 * Tensors are NHWC; images enter as RGB 0..1.
 */
import { conv2d } from '../../autograd/ops/conv2d.ts';
import { maxPool2d } from '../../autograd/ops/pool.ts';
import { upsampleNearest } from '../../autograd/ops/resize.ts';
import { noGrad } from '../../autograd/tape.ts';
import { cast } from '../../gpu/kernels/cast.ts';
import type { Runtime } from '../../gpu/runtime.ts';
import { formatShape, type Tensor } from '../../gpu/tensor.ts';
import type { HostTensorMap } from '../weights/host-tensor.ts';
import { ParamStore } from './params.ts';

export type DistilledLevel = 1 | 2 | 3 | 4 | 5;
export const DISTILLED_LEVELS: readonly DistilledLevel[] = [1, 2, 3, 4, 5];
/** The manifest's name for the ten nets. */
export const DISTILLED_MODEL = 'distilled-16x';
/** Feature channels at each level's encoder output. */
export const DISTILLED_CHANNELS: Readonly<Record<DistilledLevel, number>> = { 1: 24, 2: 32, 3: 64, 4: 128, 5: 128 };

/** 'P' is a 2×2 max pool; encoder n stops after conv{n}1. */
const ENCODER_STEPS = ['conv11', 'conv12', 'P', 'conv21', 'conv22', 'P', 'conv31', 'conv32', 'conv33', 'conv34', 'P', 'conv41', 'conv42', 'conv43', 'conv44', 'P', 'conv51'];
/** 'U' is nearest 2× upsampling; decoder n starts at conv{n}1. */
const DECODER_STEPS = ['conv51', 'U', 'conv44', 'conv43', 'conv42', 'conv41', 'U', 'conv34', 'conv33', 'conv32', 'conv31', 'U', 'conv22', 'conv21', 'U', 'conv12', 'conv11'];

export function encoderSteps(level: DistilledLevel): string[] {
  return ENCODER_STEPS.slice(0, ENCODER_STEPS.indexOf(`conv${level}1`) + 1);
}

export function decoderSteps(level: DistilledLevel): string[] {
  return DECODER_STEPS.slice(DECODER_STEPS.indexOf(`conv${level}1`));
}

/** How many times level n halves the image (pools before its output). */
export function downsampling(level: DistilledLevel): number {
  return 2 ** (level - 1);
}

export class DistilledVgg {
  constructor(readonly params: ParamStore) {
    for (const level of DISTILLED_LEVELS) {
      params.get(`enc${level}.conv0.weight`, [1, 1, 3, 3]);
      params.get(`dec${level}.conv${level}1.weight`);
    }
  }

  get runtime(): Runtime {
    return this.params.runtime;
  }

  /**
   * `half`: the conv weights and every activation inside the nets stored in f16, arithmetic in f32
   * (inference only; needs 'shader-f16'). Images and features still enter and leave in f32, so the
   * statistics and transforms between encoder and decoder stay f32.
   */
  static fromHost(runtime: Runtime, weights: HostTensorMap, source = DISTILLED_MODEL, half = false): DistilledVgg {
    if (!half) return new DistilledVgg(ParamStore.fromHost(runtime, weights, source));
    const store = new ParamStore(runtime, source);
    for (const [name, t] of weights) store.set(name, runtime.upload(t.data, t.shape, 'f16'));
    return new DistilledVgg(store);
  }

  /** Whether the nets run in f16 storage (their weights are f16). */
  get half(): boolean {
    return this.params.get('enc1.conv0.weight').dtype === 'f16';
  }

  /** x in the nets' storage dtype: a cast copy when they run in f16, else x itself. */
  private enter(x: Tensor): Tensor {
    return this.half ? cast(x, 'f16') : x;
  }

  /** The nets' result as f32 (an f16 result is cast and freed). */
  private leave(y: Tensor): Tensor {
    if (y.dtype === 'f32') return y;
    const out = cast(y, 'f32');
    y.dispose();
    return out;
  }

  /** Encoder n on an RGB 0..1 batch [N, H, W, 3]: [N, ⌊H/2^(n−1)⌋, ⌊W/2^(n−1)⌋, C_n]. */
  encode(level: DistilledLevel, image: Tensor): Tensor {
    if (image.rank !== 4 || image.shape[3] !== 3) throw new Error(`distilled encoder ${level}: expects RGB [N, H, W, 3], got ${formatShape(image.shape)}`);
    const f = downsampling(level);
    if (image.shape[1]! < 2 * f || image.shape[2]! < 2 * f) {
      throw new Error(`distilled encoder ${level}: the image (${image.shape[2]}×${image.shape[1]}) must be at least ${2 * f}×${2 * f} pixels`);
    }
    return noGrad(() => {
      const input = this.enter(image);
      let x = conv2d(input, this.params.get(`enc${level}.conv0.weight`), { bias: this.params.get(`enc${level}.conv0.bias`) });
      if (input !== image) input.dispose();
      for (const step of encoderSteps(level)) x = this.step(`enc${level}`, step, x);
      return this.leave(x);
    });
  }

  /** Decoder n on features [N, h, w, C_n]: an RGB batch [N, h·2^(n−1), w·2^(n−1), 3], ≥ 0, not clamped. */
  decode(level: DistilledLevel, features: Tensor): Tensor {
    const channels = DISTILLED_CHANNELS[level];
    if (features.rank !== 4 || features.shape[3] !== channels) {
      throw new Error(`distilled decoder ${level}: expects features [N, h, w, ${channels}], got ${formatShape(features.shape)}`);
    }
    if (features.shape[1]! < 2 || features.shape[2]! < 2) throw new Error(`distilled decoder ${level}: features must be at least 2×2, got ${formatShape(features.shape)}`);
    return noGrad(() => {
      const input = this.enter(features);
      let x = input;
      for (const step of decoderSteps(level)) x = this.step(`dec${level}`, step, x, x !== features);
      return this.leave(x);
    });
  }

  dispose(): void {
    for (const t of this.params.list()) t.dispose();
  }

  /** One step; the input is disposed unless it is the caller's tensor. */
  private step(net: string, step: string, x: Tensor, owned = true): Tensor {
    let y: Tensor;
    if (step === 'P') y = maxPool2d(x);
    else if (step === 'U') y = upsampleNearest(x, 2);
    else {
      y = conv2d(x, this.params.get(`${net}.${step}.weight`), {
        bias: this.params.get(`${net}.${step}.bias`),
        padding: 1,
        padMode: 'reflect',
        activation: 'relu',
      });
    }
    if (owned) x.dispose();
    return y;
  }
}
