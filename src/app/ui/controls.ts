// Renders a method's ControlSpecs as form controls.

import type { ControlSpec, ControlValue, ControlValues, GalleryControl, SelectControl, SliderControl, ToggleControl } from '../methods.ts';
import { h } from './dom.ts';

export interface ControlsView {
  element: HTMLElement;
  /** Re-applies visibleWhen after values change elsewhere. */
  refresh(values: ControlValues): void;
}

const LOG_STEPS = 1000;

function sliderToValue(spec: SliderControl, position: number): number {
  if (spec.scale === 'log') {
    const v = Number((spec.min * (spec.max / spec.min) ** (position / LOG_STEPS)).toPrecision(2));
    return spec.integer ? Math.max(spec.min, Math.round(v)) : v;
  }
  return position;
}

function valueToSlider(spec: SliderControl, value: number): number {
  if (spec.scale === 'log') return Math.round((Math.log(value / spec.min) / Math.log(spec.max / spec.min)) * LOG_STEPS);
  return value;
}

export function formatValue(spec: SliderControl, value: number): string {
  if (spec.format) return spec.format(value);
  if (spec.scale === 'log') return value.toPrecision(2).replace(/\.?0+$/, '');
  const decimals = Math.max(0, -Math.floor(Math.log10(spec.step || 1)));
  return value.toFixed(Math.min(decimals, 4));
}

/** One line describing a control's value for a result caption; null if not worth showing. */
export function describeValue(spec: ControlSpec, value: ControlValue): string | null {
  switch (spec.kind) {
    case 'slider':
      return `${spec.label} ${formatValue(spec, Number(value))}`;
    case 'select':
    case 'gallery':
      return spec.options.find((o) => o.value === value)?.label ?? String(value);
    case 'toggle':
      return value === true ? spec.label : null;
  }
}

function slider(spec: SliderControl, value: number, onChange: (v: number) => void, disabled: boolean): HTMLElement {
  const output = h('output', { class: 'control-value' }, formatValue(spec, value));
  const linear = spec.scale !== 'log';
  const input = h('input', {
    type: 'range',
    id: `control-${spec.id}`,
    name: spec.id,
    min: linear ? spec.min : 0,
    max: linear ? spec.max : LOG_STEPS,
    step: linear ? spec.step || 'any' : 1,
    disabled,
    'data-control': spec.id,
  });
  input.value = String(valueToSlider(spec, value));
  const paint = () => {
    const min = Number(input.min);
    const max = Number(input.max);
    input.style.setProperty('--fill', `${((Number(input.value) - min) / (max - min || 1)) * 100}%`);
  };
  paint();
  input.addEventListener('input', () => {
    const v = sliderToValue(spec, Number(input.value));
    output.textContent = formatValue(spec, v);
    paint();
    onChange(v);
  });
  return h(
    'div',
    { class: 'control control-slider' },
    h('div', { class: 'control-head' }, h('label', { for: input.id }, spec.label), output),
    input,
  );
}

function select(spec: SelectControl, value: string, onChange: (v: string) => void, disabled: boolean): HTMLElement {
  const group = h('div', { class: 'segmented', role: 'radiogroup', 'aria-label': spec.label, 'data-control': spec.id });
  const buttons = spec.options.map((option) =>
    h(
      'button',
      {
        type: 'button',
        role: 'radio',
        'aria-checked': String(option.value === value),
        'data-value': option.value,
        disabled,
        onclick: () => {
          for (const b of buttons) b.setAttribute('aria-checked', String(b === buttons[spec.options.indexOf(option)]));
          onChange(option.value);
        },
      },
      option.label,
    ),
  );
  group.append(...buttons);
  return h('div', { class: 'control control-select' }, h('div', { class: 'control-head' }, h('span', { class: 'control-label' }, spec.label)), group);
}

function toggle(spec: ToggleControl, value: boolean, onChange: (v: boolean) => void, disabled: boolean): HTMLElement {
  const input = h('input', { type: 'checkbox', role: 'switch', id: `control-${spec.id}`, checked: value, disabled, 'data-control': spec.id });
  input.addEventListener('change', () => onChange(input.checked));
  return h('div', { class: 'control control-toggle' }, h('label', { class: 'switch' }, input, h('span', { class: 'switch-track' }), h('span', {}, spec.label)));
}

/** A stable, pleasant gradient per name, for gallery tiles without a picture. */
function swatch(name: string): string {
  let hash = 0;
  for (const ch of name) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  const a = hash % 360;
  const b = (a + 50 + (hash >> 9) % 80) % 360;
  return `linear-gradient(135deg, hsl(${a} 70% 58%), hsl(${b} 65% 42%))`;
}

function gallery(spec: GalleryControl, value: string, onChange: (v: string) => void, disabled: boolean): HTMLElement {
  const grid = h('div', { class: 'gallery', role: 'radiogroup', 'aria-label': spec.label, 'data-control': spec.id });
  const tiles = spec.options.map((option) => {
    const art = h('span', { class: 'gallery-art' });
    if (option.thumbnail) art.style.backgroundImage = `url("${option.thumbnail}")`;
    else {
      art.style.backgroundImage = swatch(option.value);
      art.dataset['initial'] = option.label.charAt(0);
    }
    const tile = h(
      'button',
      {
        type: 'button',
        role: 'radio',
        class: 'gallery-tile',
        'aria-checked': String(option.value === value),
        'data-value': option.value,
        title: option.caption ?? option.label,
        disabled,
        onclick: () => {
          for (const t of tiles) t.setAttribute('aria-checked', String(t === tile));
          onChange(option.value);
        },
      },
      art,
      h('span', { class: 'gallery-label' }, option.label),
    );
    return tile;
  });
  grid.append(...tiles);
  return h('div', { class: 'control control-gallery' }, h('div', { class: 'control-head' }, h('span', { class: 'control-label' }, spec.label)), grid);
}

/**
 * Builds the controls. `onChange` gets every change; the view keeps `values` current itself.
 * `disabled` renders them greyed out (for methods that cannot run here).
 */
export function renderControls(
  specs: readonly ControlSpec[],
  values: Record<string, ControlValue>,
  onChange: (spec: ControlSpec, value: ControlValue) => void,
  disabled = false,
): ControlsView {
  const rows = new Map<ControlSpec, HTMLElement>();
  const element = h('div', { class: 'controls' });
  const refresh = (current: ControlValues) => {
    for (const [spec, row] of rows) row.hidden = spec.visibleWhen ? !spec.visibleWhen(current) : false;
  };
  const changed = (spec: ControlSpec) => (value: ControlValue) => {
    values[spec.id] = value;
    refresh(values);
    onChange(spec, value);
  };
  for (const spec of specs) {
    const value = values[spec.id] ?? spec.default;
    let row: HTMLElement;
    switch (spec.kind) {
      case 'slider':
        row = slider(spec, Number(value), changed(spec), disabled);
        break;
      case 'select':
        row = select(spec, String(value), changed(spec), disabled);
        break;
      case 'toggle':
        row = toggle(spec, value === true, changed(spec), disabled);
        break;
      case 'gallery':
        row = gallery(spec, String(value), changed(spec), disabled);
        break;
    }
    if (spec.hint) row.append(h('p', { class: 'control-hint' }, spec.hint));
    row.dataset['controlRow'] = spec.id;
    rows.set(spec, row);
    element.append(row);
  }
  refresh(values);
  return { element, refresh };
}
