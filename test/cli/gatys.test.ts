/** `pastiche stylize --method gatys`: the command line mapped onto the library's Gatys options. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stylizePlanFor } from '../../src/cli/commands/stylize.ts';
import { divergedFailure, snapshotPath } from '../../src/cli/stylize/run.ts';
import { readImageFile } from '../../src/io/image-file.ts';
import type { RgbImage } from '../../src/io/image.ts';
import type { StyleInput } from '../../src/nets/methods/contract.ts';
import { gatysLibraryOptions } from '../../src/nets/methods/gatys/definition.ts';
import { DEFAULT_GATYS_WEIGHTS } from '../../src/nets/methods/gatys/gatys.ts';
import { OptimizationDivergedError } from '../../src/nets/optim/diverged.ts';

const folders: string[] = [];
afterAll(async () => {
  for (const f of folders) await rm(f, { recursive: true, force: true });
});

const pixel: RgbImage = { width: 1, height: 1, data: new Float32Array(3) };

/** The library options `pastiche stylize c.png -s a.jpg [-s b.jpg] --method gatys ARGS` runs with. */
async function libraryOptions(args: string[], styleCount = 1) {
  const styleArgs = Array.from({ length: styleCount }, (_, i) => ['-s', `s${i}.jpg`]).flat();
  const plan = await stylizePlanFor(['c.png', ...styleArgs, '--method', 'gatys', ...args]);
  const styles: StyleInput[] = plan.styles.map((name, i) => ({ image: pixel, name, weight: plan.blend[i]! }));
  return gatysLibraryOptions(plan.values, styles);
}

describe('pastiche stylize --method gatys', () => {
  it('maps the command-line options onto the library options', async () => {
    const o = await libraryOptions(['--blend', '0.7,0.3', '--save-every', '50', '--preserve-color', '--scales', '3'], 2);
    expect(o.styleWeight).toBe(DEFAULT_GATYS_WEIGHTS.styleWeight); // no β given
    expect(o.styleBlend).toEqual([0.7, 0.3]);
    expect(o.preserveColor).toBe('luminance'); // a bare --preserve-color
    expect(o.previewEvery).toBe(50);
    expect(o.scales).toBe(3);
    const beta = await libraryOptions(['--style-weight', '42', '--preserve-color', 'histogram', '--style-layers', 'relu1_1,relu2_1:0.5']);
    expect(beta.styleWeight).toBe(42);
    expect(beta.preserveColor).toBe('histogram');
    expect(beta.styleLayers).toEqual({ relu1_1: 1, relu2_1: 0.5 });
    await expect(libraryOptions(['--preserve-color', 'sepia'])).rejects.toThrow(/--preserve-color for --method gatys takes none \| luminance \| histogram \(or no value\), got 'sepia'/);
    await expect(libraryOptions(['--style-weight', '0.5,0.5'])).rejects.toThrow(/--style-weight must be a number in \[0, 1000000000000\], got NaN/);
    expect(snapshotPath('/x/out.png', 50)).toBe('/x/out.0050.png');
  });

  it("gives the library's default loss weights and colour handling when no option is given", async () => {
    const o = await libraryOptions([]);
    expect({ contentWeight: o.contentWeight, styleWeight: o.styleWeight, tvWeight: o.tvWeight }).toEqual(DEFAULT_GATYS_WEIGHTS);
    expect(o.preserveColor).toBe('none');
    expect(o.styleBlend).toEqual([1]);
    expect(o.iterations).toBe(300);
  });

  it('needs a style image', async () => {
    await expect(stylizePlanFor(['c.png', '--method', 'gatys'])).rejects.toThrow(/--method gatys needs at least one --style image/);
  });

  it('writes the best image kept before a divergence and says where', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'pastiche-gatys-'));
    folders.push(folder);
    const output = join(folder, 'out.png');
    const best: RgbImage = { width: 2, height: 1, data: new Float32Array([0, 64, 128, 255, 32, 16]) };
    const failure = await divergedFailure(new OptimizationDivergedError('gatys: the loss became Infinity at iteration 7: lower the learning rate', 7, Infinity, best), output, 5);
    expect(failure.message).toBe(`the loss became Infinity at iteration 7: lower --learning-rate (now 5); the best image before it is written to ${output}`);
    expect(Array.from((await readImageFile(output)).data)).toEqual(Array.from(best.data));
  });
});
