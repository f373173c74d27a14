// A small live line chart of loss values per step (log scale), drawn on a canvas.

import { h } from './dom.ts';

export interface LossPoint {
  step: number;
  losses: Record<string, number>;
}

const SERIES_COLOURS = ['--plot-1', '--plot-2', '--plot-3', '--plot-4', '--plot-5'];

export class LossPlot {
  readonly element: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly legend: HTMLElement;
  private points: LossPoint[] = [];
  private queued = false;

  constructor() {
    this.canvas = h('canvas', { class: 'loss-canvas', 'aria-label': 'Loss per step (log scale)', role: 'img' });
    this.legend = h('div', { class: 'loss-legend' });
    this.element = h(
      'div',
      { class: 'loss-plot', hidden: true },
      h('div', { class: 'loss-head' }, h('span', { class: 'loss-title' }, 'Loss'), this.legend),
      this.canvas,
    );
    new ResizeObserver(() => this.schedule()).observe(this.canvas);
  }

  get length(): number {
    return this.points.length;
  }

  set(points: readonly LossPoint[]): void {
    this.points = [...points];
    this.element.hidden = this.points.length === 0;
    this.element.dataset['points'] = String(this.points.length);
    this.schedule();
  }

  add(point: LossPoint): void {
    this.points.push(point);
    this.element.hidden = false;
    this.element.dataset['points'] = String(this.points.length);
    this.schedule();
  }

  private schedule(): void {
    if (this.queued) return;
    this.queued = true;
    requestAnimationFrame(() => {
      this.queued = false;
      this.draw();
    });
  }

  private draw(): void {
    const { canvas, points } = this;
    const keys = [...new Set(points.flatMap((p) => Object.keys(p.losses)))];
    const style = getComputedStyle(this.element);
    const colour = (i: number) => style.getPropertyValue(SERIES_COLOURS[i % SERIES_COLOURS.length]!).trim() || '#888';
    this.legend.replaceChildren(
      ...keys.map((key, i) => {
        const last = [...points].reverse().find((p) => p.losses[key] !== undefined)?.losses[key];
        return h(
          'span',
          { class: 'loss-key' },
          h('span', { class: 'loss-dot', style: `background:${colour(i)}` }),
          `${key} ${last === undefined ? '' : formatLoss(last)}`,
        );
      }),
    );
    const dpr = window.devicePixelRatio || 1;
    const width = Math.max(1, Math.round(canvas.clientWidth * dpr));
    const height = Math.max(1, Math.round(canvas.clientHeight * dpr));
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
    }
    const ctx = canvas.getContext('2d');
    if (!ctx || points.length === 0) return;
    ctx.clearRect(0, 0, width, height);

    const values = points.flatMap((p) => Object.values(p.losses)).filter((v) => v > 0 && Number.isFinite(v));
    if (!values.length) return;
    let lo = Math.log10(Math.min(...values));
    let hi = Math.log10(Math.max(...values));
    if (hi - lo < 1) {
      lo -= 0.5;
      hi += 0.5;
    }
    const firstStep = points[0]!.step;
    const lastStep = Math.max(points[points.length - 1]!.step, firstStep + 1);
    const pad = 6 * dpr;
    const x = (step: number) => pad + ((step - firstStep) / (lastStep - firstStep)) * (width - 2 * pad);
    const y = (v: number) => pad + (1 - (Math.log10(v) - lo) / (hi - lo)) * (height - 2 * pad);

    // Decade grid lines.
    ctx.strokeStyle = style.getPropertyValue('--border').trim() || '#ccc';
    ctx.lineWidth = 1;
    for (let d = Math.ceil(lo); d <= Math.floor(hi); d++) {
      const gy = Math.round(y(10 ** d)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(pad, gy);
      ctx.lineTo(width - pad, gy);
      ctx.stroke();
    }
    keys.forEach((key, i) => {
      ctx.strokeStyle = colour(i);
      ctx.lineWidth = 2 * dpr;
      ctx.lineJoin = 'round';
      ctx.beginPath();
      let started = false;
      for (const p of points) {
        const v = p.losses[key];
        if (v === undefined || !(v > 0) || !Number.isFinite(v)) continue;
        if (started) ctx.lineTo(x(p.step), y(v));
        else ctx.moveTo(x(p.step), y(v));
        started = true;
      }
      ctx.stroke();
    });
  }
}

export function formatLoss(v: number): string {
  if (v === 0) return '0';
  const abs = Math.abs(v);
  return abs >= 1e4 || abs < 1e-2 ? v.toExponential(2) : v.toPrecision(3);
}
