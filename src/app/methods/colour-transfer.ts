// Colour transfer: gives the content photo the colour statistics of the style image(s) — each RGB
// channel's mean and standard deviation — computed entirely with the engine's GPU ops. It is not
// neural style transfer (no textures, no brush strokes), but it runs the whole path a real method
// uses: upload, reductions, broadcasting elementwise kernels, autograd, readback, preview.
//
// Two solvers reach the same answer:
//  - closed form: y = (x - mean(x)) / std(x) * std* + mean*, in one pass;
//  - gradient descent: minimises L(x) = |mean(x) - mean*|^2 + |std(x) - std*|^2 over the pixels with
//    the engine's autograd, showing each step live. With step size 1 a single step lands exactly on
//    the closed form (the gradient is affine in x); smaller steps approach it geometrically.

import { valueAndGradOf } from '../../autograd/grad.ts';
import { add, addScalar, clamp, div, mul, scale, sqrt, square, sub } from '../../autograd/ops/elementwise.ts';
import { mean, sum } from '../../autograd/ops/reduce.ts';
import { noGrad } from '../../autograd/tape.ts';
import { getRuntime } from '../../gpu/runtime.ts';
import { keep, scope } from '../../gpu/scope.ts';
import type { Tensor } from '../../gpu/tensor.ts';
import type { RgbImage } from '../../io/image.ts';
import { resizeToLongSide } from '../../io/resize.ts';
import {
  booleanValue,
  numberValue,
  sizeControl,
  stringValue,
  throwIfAborted,
  yieldToBrowser,
  type ControlValues,
  type MethodInputs,
  type ProgressFn,
  type StyleMethod,
} from '../methods.ts';

const EPS = 1e-3;
const PIXEL_AXES = [0, 1, 2];

interface ChannelStats {
  mean: Tensor; // [1, 1, 1, 3]
  std: Tensor; // [1, 1, 1, 3]
}

function toTensor(image: RgbImage): Tensor {
  return getRuntime().upload(image.data, [1, image.height, image.width, 3]);
}

function channelStats(x: Tensor): ChannelStats {
  const m = mean(x, PIXEL_AXES, true);
  const variance = mean(square(sub(x, m)), PIXEL_AXES, true);
  return { mean: m, std: sqrt(addScalar(variance, EPS)) };
}

/** The interpolated target: weighted sums of the styles' channel means and deviations. */
function targetStats(styles: MethodInputs['styles'], size: number): ChannelStats {
  let target: ChannelStats | null = null;
  for (const style of styles) {
    const s = channelStats(toTensor(shrink(style.image, size)));
    const weighted = { mean: scale(s.mean, style.weight), std: scale(s.std, style.weight) };
    target = target ? { mean: add(target.mean, weighted.mean), std: add(target.std, weighted.std) } : weighted;
  }
  if (!target) throw new Error('Colour transfer needs at least one style image.');
  return target;
}

function shrink(image: RgbImage, longSide: number): RgbImage {
  return Math.max(image.width, image.height) > longSide ? resizeToLongSide(image, longSide) : image;
}

/** content + strength * (stylized - content), clamped to displayable values. */
function blendAndClamp(content: Tensor, stylized: Tensor, strength: number): Tensor {
  const mixed = strength >= 1 ? stylized : add(content, scale(sub(stylized, content), strength));
  return clamp(mixed, 0, 255);
}

async function readImage(t: Tensor, width: number, height: number): Promise<RgbImage> {
  const data = await t.data();
  return { width, height, data: data.slice(0, width * height * 3) };
}

async function closedForm(inputs: MethodInputs, values: ControlValues, onProgress: ProgressFn, signal: AbortSignal): Promise<RgbImage> {
  const size = numberValue(values, 'size');
  const content = shrink(inputs.content, size);
  onProgress({ stage: 'run', message: 'Matching colour statistics on the GPU' });
  const out = noGrad(() =>
    scope(() => {
      const x = toTensor(content);
      const source = channelStats(x);
      const target = targetStats(inputs.styles, size);
      const centred = sub(x, source.mean);
      const spread = booleanValue(values, 'matchContrast') ? mul(div(centred, source.std), target.std) : centred;
      return blendAndClamp(x, add(spread, target.mean), numberValue(values, 'strength'));
    }),
  );
  try {
    const image = await readImage(out, content.width, content.height);
    throwIfAborted(signal);
    return image;
  } finally {
    out.dispose();
  }
}

async function gradientDescent(inputs: MethodInputs, values: ControlValues, onProgress: ProgressFn, signal: AbortSignal): Promise<RgbImage> {
  const size = numberValue(values, 'size');
  const content = shrink(inputs.content, size);
  const steps = numberValue(values, 'steps');
  const stepSize = numberValue(values, 'stepSize');
  const strength = numberValue(values, 'strength');
  const { width, height } = content;
  // The loss is a function of per-channel averages, so each pixel's gradient is ~1/N: scaling the
  // step by N/2 makes `stepSize` 1 the exact Newton step.
  const lr = (stepSize * width * height) / 2;
  const reportEvery = Math.max(1, Math.round(steps / 60));

  const rt = getRuntime();
  const original = toTensor(content);
  const target = noGrad(() => {
    const t = scope(() => targetStats(inputs.styles, size));
    return { mean: keep(t.mean), std: keep(t.std) };
  });
  const resume = inputs.resumeFrom && inputs.resumeFrom.width === width && inputs.resumeFrom.height === height ? inputs.resumeFrom : null;
  let x = resume ? toTensor(resume) : rt.reshape(original, original.shape);
  const firstStep = resume ? Math.min(inputs.resumeStep ?? 0, steps) : 0;

  const lossTerms = (image: Tensor) => {
    const s = channelStats(image);
    return { mean: sum(square(sub(s.mean, target.mean))), spread: sum(square(sub(s.std, target.std))) };
  };
  const report = async (step: number) => {
    const { preview, terms } = noGrad(() =>
      scope(() => ({ preview: blendAndClamp(original, x, strength), terms: lossTerms(x) })),
    );
    const [image, meanLoss, spreadLoss] = await Promise.all([readImage(preview, width, height), terms.mean.item(), terms.spread.item()]);
    preview.dispose();
    terms.mean.dispose();
    terms.spread.dispose();
    onProgress({
      stage: 'run',
      message: `Step ${step} / ${steps}`,
      fraction: step / steps,
      preview: image,
      step,
      losses: { 'mean²': meanLoss, 'std²': spreadLoss },
    });
    return image;
  };

  try {
    onProgress({ stage: 'compile', message: 'Compiling GPU kernels' });
    // A resumed run already showed (and plotted) its starting point.
    let last = resume ? resume : await report(0);
    for (let step = firstStep + 1; step <= steps; step++) {
      if (signal.aborted) return last; // resumable: the page offers Resume from this image
      const { value, grads } = valueAndGradOf(() => {
        const t = lossTerms(x);
        return add(t.mean, t.spread);
      }, [x]);
      const next = noGrad(() => sub(x, scale(grads[0]!, lr)));
      value.dispose();
      grads[0]!.dispose();
      x.dispose();
      x = next;
      if (step % reportEvery === 0 || step === steps) {
        last = await report(step);
        await yieldToBrowser();
      }
    }
    return last;
  } finally {
    x.dispose();
    original.dispose();
    target.mean.dispose();
    target.std.dispose();
  }
}

const colourTransfer: StyleMethod = {
  id: 'colour',
  label: 'Colour transfer',
  summary:
    "Engine check: matches each colour channel's mean and spread to the style's, on the GPU. Colours only — no brush strokes.",
  order: 50,
  styleInputs: 'many',
  resumable: true,
  controls: [
    {
      kind: 'slider',
      id: 'strength',
      label: 'Strength',
      hint: 'Blend between the photo (0) and the full transfer (1).',
      min: 0,
      max: 1,
      step: 0.05,
      default: 1,
      live: true,
      format: (v) => `${Math.round(v * 100)}%`,
    },
    {
      kind: 'toggle',
      id: 'matchContrast',
      label: 'Match contrast',
      hint: 'Also match each channel’s spread, not only its average.',
      default: true,
      live: true,
      visibleWhen: (v) => v['solver'] === 'closed',
    },
    {
      kind: 'select',
      id: 'solver',
      label: 'Solver',
      options: [
        { value: 'closed', label: 'Closed form' },
        { value: 'descent', label: 'Gradient descent' },
      ],
      default: 'closed',
      hint: 'Gradient descent runs the engine’s autograd and shows each step.',
    },
    {
      kind: 'slider',
      id: 'steps',
      label: 'Steps',
      min: 5,
      max: 200,
      step: 5,
      default: 60,
      visibleWhen: (v) => v['solver'] === 'descent',
    },
    {
      kind: 'slider',
      id: 'stepSize',
      label: 'Step size',
      hint: '1 jumps straight to the answer; smaller steps show the path.',
      min: 0.01,
      max: 1,
      step: 0.01,
      default: 0.08,
      visibleWhen: (v) => v['solver'] === 'descent',
    },
    sizeControl([128, 256, 512, 1024], 512),
  ],
  async available() {
    return true; // needs only WebGPU, which the page checks first
  },
  run(inputs, values, onProgress, signal) {
    throwIfAborted(signal);
    return stringValue(values, 'solver') === 'descent'
      ? gradientDescent(inputs, values, onProgress, signal)
      : closedForm(inputs, values, onProgress, signal);
  },
};

export default colourTransfer;
