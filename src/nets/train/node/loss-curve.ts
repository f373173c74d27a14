/**
 * The loss curve of a training run as an image: axes with ticks and numbers, the training loss (each
 * iteration, faint, and a centred moving average) and the validation loss (points joined by a
 * line, the best one ringed). Drawn pixel by pixel into an RgbImage with a small built-in font, so it
 * needs no canvas; the y axis is logarithmic when the losses span more than a factor of 20.
 */
import { writeFileAtomic } from '../../../io/atomic-write.ts';
import { encodePng, type RgbImage } from '../../../io/image.ts';
import type { TrainingHistory } from './checkpoint.ts';

type Rgb = readonly [number, number, number];

const AXIS: Rgb = [40, 40, 40];
const GRID: Rgb = [228, 228, 228];
const TRAIN_RAW: Rgb = [170, 195, 235];
const TRAIN: Rgb = [30, 90, 200];
const VAL: Rgb = [230, 120, 20];
const BEST: Rgb = [20, 150, 60];

// 5×7 glyphs, one string per row ('#' = ink), for the characters the plot writes.
const GLYPHS: Record<string, readonly string[]> = {
  '0': [' ### ', '#   #', '#  ##', '# # #', '##  #', '#   #', ' ### '],
  '1': ['  #  ', ' ##  ', '  #  ', '  #  ', '  #  ', '  #  ', ' ### '],
  '2': [' ### ', '#   #', '    #', '   # ', '  #  ', ' #   ', '#####'],
  '3': ['#####', '   # ', '  #  ', '   # ', '    #', '#   #', ' ### '],
  '4': ['   # ', '  ## ', ' # # ', '#  # ', '#####', '   # ', '   # '],
  '5': ['#####', '#    ', '#### ', '    #', '    #', '#   #', ' ### '],
  '6': ['  ## ', ' #   ', '#    ', '#### ', '#   #', '#   #', ' ### '],
  '7': ['#####', '    #', '   # ', '  #  ', ' #   ', ' #   ', ' #   '],
  '8': [' ### ', '#   #', '#   #', ' ### ', '#   #', '#   #', ' ### '],
  '9': [' ### ', '#   #', '#   #', ' ####', '    #', '   # ', ' ##  '],
  '.': ['     ', '     ', '     ', '     ', '     ', ' ##  ', ' ##  '],
  '-': ['     ', '     ', '     ', '#####', '     ', '     ', '     '],
  '+': ['     ', '  #  ', '  #  ', '#####', '  #  ', '  #  ', '     '],
  ' ': ['     ', '     ', '     ', '     ', '     ', '     ', '     '],
  '(': ['   # ', '  #  ', ' #   ', ' #   ', ' #   ', '  #  ', '   # '],
  ')': [' #   ', '  #  ', '   # ', '   # ', '   # ', '  #  ', ' #   '],
  a: ['     ', '     ', ' ### ', '    #', ' ####', '#   #', ' ####'],
  b: ['#    ', '#    ', '# ## ', '##  #', '#   #', '#   #', '#### '],
  e: ['     ', '     ', ' ### ', '#   #', '#####', '#    ', ' ### '],
  g: ['     ', ' ####', '#   #', '#   #', ' ####', '    #', ' ### '],
  i: ['  #  ', '     ', ' ##  ', '  #  ', '  #  ', '  #  ', ' ### '],
  l: [' ##  ', '  #  ', '  #  ', '  #  ', '  #  ', '  #  ', ' ### '],
  n: ['     ', '     ', '# ## ', '##  #', '#   #', '#   #', '#   #'],
  o: ['     ', '     ', ' ### ', '#   #', '#   #', '#   #', ' ### '],
  r: ['     ', '     ', '# ## ', '##  #', '#    ', '#    ', '#    '],
  s: ['     ', '     ', ' ####', '#    ', ' ### ', '    #', '#### '],
  t: [' #   ', ' #   ', '###  ', ' #   ', ' #   ', ' #  #', '  ## '],
  v: ['     ', '     ', '#   #', '#   #', '#   #', ' # # ', '  #  '],
};

class Canvas {
  readonly image: RgbImage;

  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.image = { width, height, data: new Float32Array(width * height * 3).fill(255) };
  }

  /** Blends `colour` into pixel (x, y) with opacity `alpha`; outside pixels are ignored. */
  plot(x: number, y: number, colour: Rgb, alpha = 1): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const i = (y * this.width + x) * 3;
    for (let c = 0; c < 3; c++) this.image.data[i + c] = this.image.data[i + c]! * (1 - alpha) + colour[c]! * alpha;
  }

  rect(x: number, y: number, w: number, h: number, colour: Rgb): void {
    for (let j = 0; j < h; j++) for (let i = 0; i < w; i++) this.plot(x + i, y + j, colour);
  }

  /** A line one pixel wide (or `thickness` pixels, drawn as offset copies). */
  line(x0: number, y0: number, x1: number, y1: number, colour: Rgb, thickness = 1, alpha = 1): void {
    const steps = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))));
    const offsets = thickness > 1 ? [-0.5, 0.5] : [0];
    for (let s = 0; s <= steps; s++) {
      const t = s / steps;
      const x = x0 + (x1 - x0) * t;
      const y = y0 + (y1 - y0) * t;
      for (const dx of offsets) for (const dy of offsets) this.plot(x + dx, y + dy, colour, alpha);
    }
  }

  /** Text at (x, y) = top-left, glyphs scaled by `scale`; returns the width drawn. */
  text(x: number, y: number, text: string, colour: Rgb, scale = 1): number {
    let cx = x;
    for (const ch of text) {
      const glyph = GLYPHS[ch] ?? GLYPHS[' ']!;
      glyph.forEach((row, j) => {
        for (let i = 0; i < 5; i++) if (row[i] === '#') this.rect(cx + i * scale, y + j * scale, scale, scale, colour);
      });
      cx += 6 * scale;
    }
    return cx - x;
  }
}

export function textWidth(text: string, scale = 1): number {
  return text.length * 6 * scale;
}

/** "Nice" tick values (1, 2, 5 × 10^k steps) covering [lo, hi]. */
function niceTicks(lo: number, hi: number, count: number): number[] {
  const span = hi - lo || Math.abs(hi) || 1;
  const raw = span / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return ticks;
}

/** Short labels: 1200 → "1200", 35000 → "3.5e4", 0.0021 → "2.1e-3". */
export function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 0.01 && a < 10000) return String(Number(v.toPrecision(3)));
  const exponent = Math.floor(Math.log10(a));
  const mantissa = Number((v / 10 ** exponent).toPrecision(2));
  return `${mantissa}e${exponent}`;
}

/** Centred moving average over ±`half` points (no lag, unlike an exponential average). */
function smooth(values: readonly number[], half: number): number[] {
  const prefix = [0];
  for (const v of values) prefix.push(prefix[prefix.length - 1]! + v);
  return values.map((_, i) => {
    const lo = Math.max(0, i - half);
    const hi = Math.min(values.length, i + half + 1);
    return (prefix[hi]! - prefix[lo]!) / (hi - lo);
  });
}

export interface LossCurveOptions {
  width?: number;
  height?: number;
}

/** Draws the history's training and validation losses; an empty history gives empty axes. */
export function drawLossCurve(history: TrainingHistory, options: LossCurveOptions = {}): RgbImage {
  const width = options.width ?? 800;
  const height = options.height ?? 480;
  const canvas = new Canvas(width, height);
  const left = 78;
  const right = width - 20;
  const top = 34;
  const bottom = height - 48;

  const train = history.train.iteration.map((it, i) => [it, history.train.total[i]!] as const).filter(([, v]) => Number.isFinite(v));
  const val = history.validation.iteration.map((it, i) => [it, history.validation.loss[i]!] as const).filter(([, v]) => Number.isFinite(v));
  const all = [...train, ...val];
  const xs = all.map(([x]) => x);
  const ys = all.map(([, y]) => y);
  const xMin = xs.length ? Math.min(0, ...xs) : 0;
  const xMax = xs.length ? Math.max(...xs, xMin + 1) : 1;
  const yLo = ys.length ? Math.min(...ys) : 0;
  const yHi = ys.length ? Math.max(...ys) : 1;
  const logScale = yLo > 0 && yHi / yLo > 20;
  const ty = (v: number) => (logScale ? Math.log10(v) : v);
  let y0 = ty(yLo);
  let y1 = ty(yHi);
  if (y1 - y0 < 1e-12) {
    const pad = Math.abs(y0) * 0.1 || 1;
    y0 -= pad;
    y1 += pad;
  }
  const margin = (y1 - y0) * 0.05;
  y0 -= margin;
  y1 += margin;
  if (!logScale && yLo >= 0 && y0 < 0) y0 = 0;
  const px = (x: number) => left + ((x - xMin) / (xMax - xMin)) * (right - left);
  const py = (v: number) => bottom - ((ty(v) - y0) / (y1 - y0)) * (bottom - top);

  // Grid and ticks.
  for (const t of niceTicks(xMin, xMax, 8)) {
    const x = px(t);
    canvas.line(x, top, x, bottom, GRID);
    canvas.line(x, bottom, x, bottom + 4, AXIS);
    const label = formatTick(t);
    canvas.text(x - textWidth(label) / 2, bottom + 8, label, AXIS);
  }
  const yTicks = logScale ? niceTicks(Math.ceil(y0 * 2) / 2, y1, 6).map((e) => 10 ** e) : niceTicks(y0, y1, 6);
  for (const t of yTicks) {
    const y = py(t);
    if (y < top - 0.5 || y > bottom + 0.5) continue;
    canvas.line(left, y, right, y, GRID);
    canvas.line(left - 4, y, left, y, AXIS);
    const label = formatTick(t);
    canvas.text(left - 7 - textWidth(label), y - 3, label, AXIS);
  }
  canvas.line(left, top, left, bottom, AXIS);
  canvas.line(left, bottom, right, bottom, AXIS);
  canvas.text((left + right) / 2 - textWidth('iteration', 2) / 2, height - 20, 'iteration', AXIS, 2);
  canvas.text(8, 10, logScale ? 'loss (log)' : 'loss', AXIS, 2);

  // Curves: the raw training loss faintly, its moving average, then validation on top.
  for (let i = 1; i < train.length; i++) canvas.line(px(train[i - 1]![0]), py(train[i - 1]![1]), px(train[i]![0]), py(train[i]![1]), TRAIN_RAW);
  if (train.length === 1) canvas.rect(px(train[0]![0]) - 1, py(train[0]![1]) - 1, 3, 3, TRAIN);
  const avg = smooth(train.map(([, v]) => v), Math.floor(train.length / 100));
  for (let i = 1; i < train.length; i++) canvas.line(px(train[i - 1]![0]), py(avg[i - 1]!), px(train[i]![0]), py(avg[i]!), TRAIN, 2);
  for (let i = 1; i < val.length; i++) canvas.line(px(val[i - 1]![0]), py(val[i - 1]![1]), px(val[i]![0]), py(val[i]![1]), VAL, 2);
  let bestIndex = -1;
  val.forEach(([x, v], i) => {
    canvas.rect(px(x) - 2, py(v) - 2, 5, 5, VAL);
    if (bestIndex < 0 || v < val[bestIndex]![1]) bestIndex = i;
  });
  if (bestIndex >= 0) {
    const [bx, bv] = val[bestIndex]!;
    for (let a = 0; a < 64; a++) {
      const angle = (a / 64) * 2 * Math.PI;
      canvas.plot(px(bx) + 6 * Math.cos(angle), py(bv) + 6 * Math.sin(angle), BEST);
      canvas.plot(px(bx) + 7 * Math.cos(angle), py(bv) + 7 * Math.sin(angle), BEST);
    }
  }

  // Legend, top right.
  const entries: [string, Rgb][] = [
    ['train', TRAIN],
    ['val', VAL],
    ['best', BEST],
  ];
  let lx = right - entries.reduce((w, [name]) => w + 22 + textWidth(name, 2) + 14, 0);
  for (const [name, colour] of entries) {
    canvas.rect(lx, 12, 16, 10, colour);
    lx += 22 + canvas.text(lx + 22, 10, name, AXIS, 2) + 14;
  }
  return canvas.image;
}

/** Draws and writes the loss curve as a PNG (atomically). */
export async function writeLossCurve(path: string, history: TrainingHistory, options: LossCurveOptions = {}): Promise<void> {
  await writeFileAtomic(path, encodePng(drawLossCurve(history, options)));
}
