import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerStylizeCommand, STYLIZE_METHODS } from '../../src/cli/commands/stylize.ts';
import { divergedFailure, gatysOptionsFrom, runGatysMethod, snapshotPath } from '../../src/cli/stylize/gatys.ts';
import type { StylizeContext, StylizeOptions } from '../../src/cli/stylize/context.ts';
import { StylizeBatch } from '../../src/cli/stylize/batch.ts';
import { readImageFile } from '../../src/io/image-file.ts';
import type { RgbImage } from '../../src/io/image.ts';
import { DEFAULT_GATYS_WEIGHTS } from '../../src/nets/methods/gatys/gatys.ts';
import { OptimizationDivergedError } from '../../src/nets/optim/diverged.ts';
import { useRuntime } from '../helpers/gpu.ts';
import { testStoreOptions } from '../helpers/shared-data.ts';

const runtime = useRuntime();
const IMAGES = new URL('../../../shared/images/', import.meta.url).pathname;
const folders: string[] = [];
afterAll(async () => {
  for (const f of folders) await rm(f, { recursive: true, force: true });
});

const CONTENT = join(IMAGES, 'content_chelsea.png');
const STYLE = join(IMAGES, 'starry_night_vangogh.jpg');

/** What `pastiche stylize CONTENT -s STYLE --method gatys ARGS...` hands the Gatys runner, parsed by the command itself. */
async function parseStylize(args: string[] = []): Promise<StylizeContext> {
  let captured: StylizeContext | undefined;
  const runner = vi.spyOn(STYLIZE_METHODS, 'gatys').mockImplementation(async (ctx) => {
    captured = ctx;
  });
  // The command destroys its runtime when done; here that is the runtime the other tests share.
  const destroy = vi.spyOn(runtime(), 'destroy').mockImplementation(() => {});
  try {
    const program = new Command().exitOverride();
    registerStylizeCommand(program);
    await program.parseAsync(['stylize', CONTENT, '-s', STYLE, '--method', 'gatys', ...args], { from: 'user' });
  } finally {
    runner.mockRestore();
    destroy.mockRestore();
  }
  if (!captured) throw new Error('the stylize command did not reach the gatys runner');
  return captured;
}

/** The command's own defaults (no option given), parsed once. */
let parsedDefaults: StylizeOptions;
beforeAll(async () => {
  parsedDefaults = (await parseStylize()).options;
});

function context(output: string, overrides: Partial<StylizeOptions>, styles = [STYLE], styleWeights = [1]): StylizeContext {
  const batch = new StylizeBatch([{ content: CONTENT, output }]);
  return { runtime: runtime(), contents: [CONTENT], styles, styleWeights, output, batch, options: { ...parsedDefaults, ...overrides }, store: testStoreOptions() };
}

describe('pastiche stylize --method gatys', () => {
  it('maps the command-line options onto the library options', async () => {
    const o = gatysOptionsFrom(await parseStylize(['-s', STYLE, '--style-weight', '0.7,0.3', '--save-every', '50', '--preserve-color', '--scales', '3']));
    expect(o.styleWeight).toBe(DEFAULT_GATYS_WEIGHTS.styleWeight); // no style-loss weight given
    expect(o.styleBlend).toEqual([0.7, 0.3]);
    expect(o.preserveColor).toBe('luminance'); // a bare --preserve-color
    expect(o.previewEvery).toBe(50);
    expect(o.scales).toBe(3);
    expect(gatysOptionsFrom(await parseStylize(['--style-weight', '42', '--preserve-color', 'histogram'])).styleWeight).toBe(42);
    expect(gatysOptionsFrom(await parseStylize(['--style-loss', '7'])).styleWeight).toBe(7);
    await expect(parseStylize(['--preserve-color', 'sepia']).then(gatysOptionsFrom)).rejects.toThrow(/takes luminance \| histogram \| none/);
    expect(snapshotPath('/x/out.png', 50)).toBe('/x/out.0050.png');
  });

  it("gives the library's default loss weights and colour handling when no option is given", async () => {
    const o = gatysOptionsFrom(await parseStylize());
    expect({ contentWeight: o.contentWeight, styleWeight: o.styleWeight, tvWeight: o.tvWeight }).toEqual(DEFAULT_GATYS_WEIGHTS);
    expect(o.preserveColor).toBe('none');
    expect(o.styleBlend).toEqual([1]);
  });

  it('writes the result, --save-every snapshots and a summary line', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'pastiche-gatys-'));
    folders.push(folder);
    const output = join(folder, 'out.png');
    const lines: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    try {
      // Shallow layers: the full VGG19 costs seconds per evaluation on the software rasteriser.
      await runGatysMethod(context(output, { size: 24, iterations: 2, saveEvery: 1, styleWeightScale: 5 }), { contentLayers: { relu2_1: 1 }, styleLayers: { relu1_1: 1, relu2_1: 1 } });
    } finally {
      spy.mockRestore();
    }
    expect((await readdir(folder)).sort()).toEqual(['out.0001.png', 'out.0002.png', 'out.png']);
    const image = await readImageFile(output);
    expect([image.width, image.height]).toEqual([24, 16]);
    const text = lines.join('');
    expect(text).toMatch(/24×16, lbfgs for 2 iterations, α=1 β=5 γ=0\.001/);
    expect(text).toMatch(/out\.png: total [\d.e+-]+ \(content [\d.e+-]+, style [\d.e+-]+, tv [\d.e+-]+\); style loss [\d.]+ % of the content image's; 2 iterations in [\d.]+ s/);
    expect(existsSync(join(folder, '.out.png.tmp'))).toBe(false);
  });

  it('needs a style image', async () => {
    await expect(runGatysMethod(context('out.png', {}, [], []))).rejects.toThrow(/needs at least one --style/);
  });

  it('fails a diverged run with the cause and the fix, writing nothing when no image improved on the start', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'pastiche-gatys-'));
    folders.push(folder);
    const output = join(folder, 'out.png');
    const ctx = context(output, { size: 32, iterations: 3, optimizer: 'adam', learningRate: 1e12 });
    await runGatysMethod(ctx);
    // The batch records the failure (exit code 1) and goes on; the reason names the cause and the fix.
    const outcome = ctx.batch.outcome();
    expect(outcome.written).toBe(0);
    expect(outcome.failed.map((f) => f.reason)).toEqual([
      expect.stringMatching(/^the loss became (NaN|-?Infinity) at iteration 2: .*lower --learning-rate \(now 1e\+12\); no image improved on the start, nothing is written$/),
    ]);
    expect(existsSync(output)).toBe(false);
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
