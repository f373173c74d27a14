/** Option values checked against a definition: the same rules for the command line and the API. */
import { describe, expect, it } from 'vitest';
import { checkOptionValue, notTakenError, optionFlag, parseOptionText, resolveOptions } from '../../../src/nets/methods/options.ts';
import { methodById } from '../../../src/nets/methods/registry.ts';

const gatys = methodById('gatys');
const magenta = methodById('magenta');
const adain = methodById('adain');
const ff = methodById('feed-forward');
const spec = (method: typeof gatys, id: string) => method.options.find((o) => o.id === id)!;

describe('resolveOptions', () => {
  it("fills the definition's defaults and keeps what was given", () => {
    const values = resolveOptions(gatys, { iterations: 20, styleWeight: 3 });
    expect(values).toMatchObject({ iterations: 20, styleWeight: 3, optimizer: 'lbfgs', init: 'content', preserveColor: 'none', tvWeight: 1e-3 });
    expect(values.size).toBeUndefined(); // no default: gatys picks its own from the image
    expect(resolveOptions(ff, {}).model).toBe('mathura');
    expect(resolveOptions(magenta, { strength: undefined }).strength).toBe(1);
  });

  it('refuses an option the method does not take, naming the methods that take it', () => {
    expect(() => resolveOptions(magenta, { alpha: 0.5 })).toThrow("option 'alpha' is not used by method 'magenta'; it is taken by adain");
    expect(() => resolveOptions(ff, { iterations: 3 }, 'flag')).toThrow('--iterations is not used by --method feed-forward; it is taken by gatys');
    expect(() => resolveOptions(ff, { colour: 1 })).toThrow("option 'colour' is not an option of any method");
    expect(notTakenError(ff, 'strength', 'key').message).toBe("option 'strength' is not used by method 'feed-forward'; it is taken by magenta");
  });

  it('makes colour preservation work for every method (a post-process where the method has none of its own)', () => {
    for (const id of ['feed-forward', 'magenta', 'adain', 'gatys']) expect(() => resolveOptions(methodById(id), { preserveColor: 'luminance' })).not.toThrow();
  });

  it('refuses values of the wrong type or out of range, saying what the option takes', () => {
    expect(() => resolveOptions(magenta, { strength: 1.5 })).toThrow("option 'strength' must be a number in [0, 1], got 1.5");
    expect(() => resolveOptions(magenta, { strength: '0.5' })).toThrow("option 'strength' must be a number in [0, 1], got '0.5'");
    expect(() => resolveOptions(gatys, { iterations: 2.5 })).toThrow("option 'iterations' must be an integer in [1, 100000], got 2.5");
    expect(() => resolveOptions(gatys, { optimizer: 'sgd' })).toThrow("option 'optimizer' for method 'gatys' takes lbfgs | adam, got 'sgd'");
    expect(() => resolveOptions(gatys, { styleLayers: 'relu1_1;relu2_1' })).toThrow(/option 'styleLayers' takes text like 'relu1_1,relu2_1:0.5'/);
    expect(() => resolveOptions(adain, { mask: 'mask.png' })).toThrow("option 'mask' takes an image, got 'mask.png'");
    expect(resolveOptions(adain, { mask: { width: 1, height: 1, data: new Float32Array(3) } }).mask).toBeDefined();
    expect(resolveOptions(ff, { model: 'my-style.safetensors' }).model).toBe('my-style.safetensors'); // an open choice
  });
});

describe('command-line text', () => {
  it('parses each kind, and a bare flag as its stated value', () => {
    expect(parseOptionText(gatys, spec(gatys, 'iterations'), '40')).toBe(40);
    expect(parseOptionText(gatys, spec(gatys, 'preserveColor'), true)).toBe('luminance');
    expect(parseOptionText(adain, spec(adain, 'preserveColor'), true)).toBe('statistics');
    expect(parseOptionText(gatys, spec(gatys, 'iterations'), '')).toBeNaN();
    expect(() => parseOptionText(gatys, spec(gatys, 'iterations'), true)).toThrow('--iterations needs a value for --method gatys');
    expect(() => checkOptionValue(gatys, spec(gatys, 'iterations'), parseOptionText(gatys, spec(gatys, 'iterations'), '4x'), 'flag')).toThrow('--iterations must be an integer in [1, 100000], got NaN');
  });

  it('names flags in kebab case, or by the spec\'s own flag', () => {
    expect(optionFlag('styleWeight')).toBe('--style-weight');
    expect(optionFlag('previewEvery')).toBe('--save-every');
  });
});
