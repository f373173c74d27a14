// A method's page controls, rendered from its definition's options: each option with a `ui` hint
// becomes a control with the option's id, label, range and default. A page adapter may add what only
// the page needs (a hint in the page's words, a value format, gallery pictures, a page control for an
// option the definition leaves to the CLI), never another id or a wider range than the option's.
// Control values go back to the definition as option values.

import type { MethodDefinition, OptionSpec, OptionUi, OptionValues } from '../index.browser.ts';
import { resolveOptions } from '../index.browser.ts';
import type { ControlSpec, ControlValue, ControlValues, GalleryControl } from './methods.ts';

/** What a page adapter adds to one option's control. */
export interface ControlOverride {
  /** The page's ui for the option (merged over the definition's `ui`; the definition's when omitted). */
  ui?: OptionUi;
  label?: string;
  hint?: string;
  format?: (value: number) => string;
  /** A select over these numbers instead of a slider (e.g. a few working sizes). */
  values?: readonly number[];
  /** A select over these lists, for a list option (e.g. which WCT levels run). */
  lists?: readonly { value: readonly number[]; label: string }[];
  /** Gallery tiles: a picture or a caption per choice value. */
  tiles?: Readonly<Record<string, { label?: string; caption?: string; thumbnail?: string }>>;
  /** Orders the gallery tiles (choice values; the rest follow). */
  order?: readonly string[];
  visibleWhen?: (values: ControlValues) => boolean;
}

export type ControlOverrides = Readonly<Record<string, ControlOverride>>;

const clampTo = (spec: { min: number; max: number }, v: number): number => Math.min(spec.max, Math.max(spec.min, v));

function control(spec: OptionSpec, ui: OptionUi, o: ControlOverride): ControlSpec | null {
  const base = {
    id: spec.id,
    label: o.label ?? spec.label,
    hint: o.hint ?? spec.description.charAt(0).toUpperCase() + spec.description.slice(1),
    ...(ui.live ? { live: true } : {}),
    ...(o.visibleWhen ? { visibleWhen: o.visibleWhen } : {}),
  };
  switch (spec.kind) {
    case 'number':
    case 'integer': {
      const min = clampTo(spec, ui.min ?? spec.min);
      const max = clampTo(spec, ui.max ?? spec.max);
      const fallback = typeof ui.default === 'number' ? ui.default : (spec.default ?? min);
      if (o.values) {
        const values = o.values.filter((v) => v >= spec.min && v <= spec.max);
        return { ...base, kind: 'select', options: values.map((v) => ({ value: String(v), label: `${v}px` })), default: String(fallback) };
      }
      return {
        ...base,
        kind: 'slider',
        min,
        max,
        step: ui.step ?? (spec.kind === 'integer' ? 1 : 0),
        default: clampTo({ min, max }, fallback),
        ...(ui.scale ? { scale: ui.scale } : {}),
        ...(spec.kind === 'integer' ? { integer: true } : {}),
        ...(o.format ? { format: o.format } : {}),
      };
    }
    case 'choice': {
      const choices = spec.choices.map((c) => ({ value: c.value, label: o.tiles?.[c.value]?.label ?? c.label }));
      const fallback = typeof ui.default === 'string' ? ui.default : (spec.default ?? choices[0]?.value ?? '');
      if (ui.control === 'gallery') {
        const rank = (v: string) => (o.order?.includes(v) ? o.order.indexOf(v) : (o.order?.length ?? 0) + choices.findIndex((c) => c.value === v));
        const options: GalleryControl['options'] = [...choices]
          .sort((a, b) => rank(a.value) - rank(b.value))
          .map((c) => {
            const tile = o.tiles?.[c.value];
            return { ...c, ...(tile?.caption ? { caption: tile.caption } : {}), ...(tile?.thumbnail ? { thumbnail: tile.thumbnail } : {}) };
          });
        return { ...base, kind: 'gallery', options, default: fallback };
      }
      return { ...base, kind: 'select', options: choices, default: fallback };
    }
    case 'boolean':
      return { ...base, kind: 'toggle', default: typeof ui.default === 'boolean' ? ui.default : (spec.default ?? false) };
    case 'number-list': {
      // Only as a few presets the page offers; each must be within the option's range.
      const lists = (o.lists ?? []).filter((l) => l.value.every((v) => v >= spec.min && v <= spec.max));
      if (lists.length === 0) return null;
      const options = lists.map((l) => ({ value: l.value.join(','), label: l.label }));
      const fallback = spec.default?.join(',');
      return { ...base, kind: 'select', options, default: options.some((x) => x.value === fallback) ? fallback! : options[0]!.value };
    }
    default:
      return null; // text and images have no page control yet
  }
}

/** The controls of a definition's options that have a `ui` (from the definition or the page adapter), in the definition's order. */
export function controlsFor(definition: MethodDefinition, overrides: ControlOverrides = {}): ControlSpec[] {
  const out: ControlSpec[] = [];
  for (const spec of definition.options) {
    const o = overrides[spec.id] ?? {};
    const ui = spec.ui || o.ui ? { ...spec.ui, ...o.ui } as OptionUi : undefined;
    if (!ui) continue;
    const c = control(spec, ui, o);
    if (c) out.push(c);
  }
  return out;
}

/** The page's control values as the definition's option values, checked (and defaulted) by the definition. */
export function optionValuesFrom(definition: MethodDefinition, values: ControlValues): OptionValues {
  const given: Record<string, unknown> = {};
  for (const [id, value] of Object.entries(values)) {
    const spec = definition.options.find((s) => s.id === id);
    if (!spec) continue; // a page-only control
    given[id] = typedValue(spec, value);
  }
  return resolveOptions(definition, given, 'key');
}

function typedValue(spec: OptionSpec, value: ControlValue): unknown {
  if (spec.kind === 'integer') return Math.round(Number(value));
  if (spec.kind === 'number') return Number(value);
  if (spec.kind === 'boolean') return value === true || value === 'true';
  if (spec.kind === 'number-list') return String(value).split(',').map(Number);
  return value;
}
