// The page's controls come from the method definitions: every option with a `ui` hint becomes a
// control with the option's id, label and a range inside the option's, and the controls' defaults
// are values the definition accepts. Control values go back as checked option values.

import { describe, expect, it } from 'vitest';
import { controlsFor, optionValuesFrom } from '../../src/app/definition-controls.ts';
import { defaultValues, type SliderControl } from '../../src/app/methods.ts';
import type { MethodDefinition } from '../../src/nets/methods/contract.ts';
import { METHODS, methodById } from '../../src/nets/methods/registry.ts';

describe('controls from the method definitions', () => {
  for (const definition of METHODS) {
    it(`${definition.id}: one control per option with a ui hint, within the option's range, defaults the definition accepts`, () => {
      const controls = controlsFor(definition);
      const withUi = definition.options.filter((o) => o.ui && ['number', 'integer', 'choice', 'boolean'].includes(o.kind));
      expect(controls.map((c) => c.id)).toEqual(withUi.map((o) => o.id));
      for (const c of controls) {
        const spec = definition.options.find((o) => o.id === c.id)!;
        expect(c.label).toBe(spec.label);
        expect(c.kind).toBe(spec.ui!.control === 'gallery' ? 'gallery' : spec.kind === 'boolean' ? 'toggle' : spec.kind === 'choice' ? 'select' : 'slider');
        if (c.kind === 'slider' && (spec.kind === 'number' || spec.kind === 'integer')) {
          expect(c.min).toBeGreaterThanOrEqual(spec.min);
          expect(c.max).toBeLessThanOrEqual(spec.max);
          expect(c.default).toBeGreaterThanOrEqual(c.min);
          expect(c.default).toBeLessThanOrEqual(c.max);
          expect(Boolean(c.live)).toBe(Boolean(spec.ui!.live));
        }
        if ((c.kind === 'select' || c.kind === 'gallery') && spec.kind === 'choice') expect(c.options.map((o) => o.value)).toEqual(spec.choices.map((x) => x.value));
      }
      expect(() => optionValuesFrom(definition, defaultValues(controls))).not.toThrow();
    });
  }

  it('a page override adds a control for an option the definition leaves to the CLI, as a select over sizes, and keeps to its range', () => {
    const magenta = methodById('magenta');
    const controls = controlsFor(magenta, { size: { ui: { control: 'select', default: 384 }, values: [8, 128, 384, 99_999] } });
    const size = controls.find((c) => c.id === 'size');
    // 8 and 99 999 are outside SIZE_OPTION's [16, 8192]: left out.
    expect(size).toMatchObject({ kind: 'select', default: '384', options: [{ value: '128' }, { value: '384' }] });
    expect(optionValuesFrom(magenta, { size: '128', strength: 0.5 })).toMatchObject({ size: 128, strength: 0.5, preserveColor: 'none' });
  });

  it('the page ui may narrow a range, never widen it; integer options round', () => {
    const definition: MethodDefinition = {
      id: 'demo',
      label: 'Demo',
      summary: '',
      styles: 'none',
      options: [{ id: 'steps', label: 'Steps', description: 'how many', kind: 'integer', min: 1, max: 50, default: 10, ui: { control: 'slider', scale: 'log' } }],
      load: () => Promise.reject(new Error('not loaded in this test')),
    };
    const [steps] = controlsFor(definition, { steps: { ui: { control: 'slider', min: 0, max: 1000 } } }) as SliderControl[];
    expect(steps).toMatchObject({ min: 1, max: 50, default: 10, scale: 'log', integer: true });
    expect(optionValuesFrom(definition, { steps: 7.6 })).toEqual({ steps: 8 });
    expect(() => optionValuesFrom(definition, { steps: 51 })).toThrow("option 'steps' must be an integer in [1, 50], got 51");
  });

  it('a list option becomes a select over the page\'s presets inside its range, read back as numbers', () => {
    const wct = methodById('wct');
    const lists = [
      { value: [5, 4, 3, 2, 1], label: '5→1' },
      { value: [2, 1], label: '2→1' },
      { value: [7, 1], label: 'out of range' },
    ];
    const levels = controlsFor(wct, { levels: { ui: { control: 'select' }, lists } }).find((c) => c.id === 'levels');
    expect(levels).toMatchObject({ kind: 'select', default: '5,4,3,2,1', options: [{ value: '5,4,3,2,1' }, { value: '2,1' }] });
    expect(optionValuesFrom(wct, { levels: '2,1' })).toMatchObject({ levels: [2, 1] });
    // Without presets a list option has no page control.
    expect(controlsFor(wct).some((c) => c.id === 'levels')).toBe(false);
  });
});
