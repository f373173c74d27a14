// The page's tabs come from the method registry: every definition has a tab with its id, label,
// style inputs and option controls, whether or not it has a page adapter; and a tab without an
// adapter runs through its definition, loading once per weight-picking option value.

import { beforeAll, describe, expect, it } from 'vitest';
import { pageMethod } from '../../src/app/page-method.ts';
import { loadMethods } from '../../src/app/registry.ts';
import { defaultValues } from '../../src/app/methods.ts';
import { initRuntime } from '../../src/gpu/runtime.ts';
import type { RgbImage } from '../../src/io/image.ts';
import type { MethodDefinition, OptionValues } from '../../src/nets/methods/contract.ts';
import { METHODS } from '../../src/nets/methods/registry.ts';

beforeAll(async () => {
  await initRuntime();
});

describe('the page tabs', () => {
  it('has a tab for every registered method, built from its definition, and the page-only demos', async () => {
    const tabs = await loadMethods();
    const ids = tabs.map((t) => t.method.id);
    for (const definition of METHODS) {
      const tab = tabs.find((t) => t.method.id === definition.id)?.method;
      expect(tab, definition.id).toBeDefined();
      expect(tab!.label).toBe(definition.label);
      expect(tab!.styleInputs).toBe(definition.styles);
      const optionIds = definition.options.map((o) => o.id);
      for (const control of tab!.controls) expect(optionIds, `${definition.id}: control ${control.id}`).toContain(control.id);
    }
    expect(ids).toContain('colour'); // a page-only demo, not a method of the registry
    expect(ids.slice(0, 5)).toEqual(['feed-forward', 'gatys', 'adain', 'wct', 'magenta']);
    // Without a page around them (no weights listing here), the tabs say why they cannot run.
    expect(tabs.find((t) => t.method.id === 'gatys')?.availability).toMatch(/^Not available: /);
  });

  it('a method with no page adapter runs through its definition', async () => {
    const loads: OptionValues[] = [];
    const runs: OptionValues[] = [];
    const definition: MethodDefinition = {
      id: 'invert',
      label: 'Invert',
      summary: 'the photo in negative',
      styles: 'none',
      options: [
        { id: 'flavour', label: 'Flavour', description: 'which weights', kind: 'choice', choices: [{ value: 'a', label: 'A' }, { value: 'b', label: 'B' }], default: 'a', ui: { control: 'gallery' } },
        { id: 'amount', label: 'Amount', description: 'how much', kind: 'number', min: 0, max: 1, default: 1, ui: { control: 'slider', live: true } },
      ],
      async load(env, options) {
        expect(env.runtime).toBeDefined();
        loads.push(options);
        return {
          async stylize(content: RgbImage, _styles, values) {
            runs.push(values);
            const amount = values.amount as number;
            return { image: { ...content, data: content.data.map((v) => v + amount * (255 - 2 * v)) } };
          },
          dispose() {},
        };
      },
    };
    const tab = pageMethod(definition, undefined, 100);
    expect(tab.controls.map((c) => [c.id, c.kind, Boolean(c.live)])).toEqual([['flavour', 'gallery', false], ['amount', 'slider', true]]);
    expect(await tab.available()).toBe(true);
    const content = { width: 1, height: 1, data: new Float32Array([0, 100, 255]) };
    const signal = new AbortController().signal;
    const values = defaultValues(tab.controls);
    expect((await tab.run({ content, styles: [] }, values, () => {}, signal)).data).toEqual(new Float32Array([255, 155, 0]));
    expect((await tab.run({ content, styles: [] }, { ...values, amount: 0.5 }, () => {}, signal)).data).toEqual(new Float32Array([127.5, 127.5, 127.5]));
    // The gallery option picks the weights: a new value loads anew, the slider does not.
    await tab.run({ content, styles: [] }, { ...values, flavour: 'b' }, () => {}, signal);
    expect(loads.map((o) => o.flavour)).toEqual(['a', 'b']);
    expect(runs.map((o) => o.amount)).toEqual([1, 0.5, 1]);
    // Values outside the definition's range are refused by the definition's checks.
    await expect(tab.run({ content, styles: [] }, { ...values, amount: 2 }, () => {}, signal)).rejects.toThrow("option 'amount' must be a number in [0, 1], got 2");
  });
});
