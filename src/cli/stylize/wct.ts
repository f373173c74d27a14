/**
 * `pastiche stylize CONTENT... --method wct --style STYLE [--style S2 --style-weight 0.6,0.4] [--alpha A]
 * [--levels 5,4,3,2,1] [--preserve-color] [--mask MASK.png] [--style-scale F] [--size PX] [--tile PX]`,
 * and `--method adain` without a decoder (the distilled level-4 pair): both run the distilled-net pipeline.
 */
import { readImageFile, writeImageFile } from '../../io/image-file.ts';
import type { RgbImage } from '../../io/image.ts';
import { resizeToLongSide } from '../../io/resize.ts';
import { combineLuminance } from '../../nets/image/color.ts';
import { DistilledVgg, type DistilledLevel } from '../../nets/models/distilled-vgg.ts';
import type { TransformKind } from '../../nets/methods/wct/feature-transform.ts';
import { DistilledStylizer } from '../../nets/methods/wct/stylizer.ts';
import type { StylizeContext } from './context.ts';

const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

/** `--method wct`. */
export function runWctMethod(ctx: StylizeContext): Promise<void> {
  return runDistilledMethod(ctx, 'wct');
}

/** WCT (levels from --levels) or AdaIN (level 4) on the distilled nets. */
export async function runDistilledMethod(ctx: StylizeContext, kind: TransformKind): Promise<void> {
  const o = ctx.options;
  if (ctx.styles.length === 0) throw new Error(`--method ${kind} needs at least one --style image`);
  const color = o.preserveColor as unknown;
  const luminance = color === 'luminance';
  const statistics = color === true || color === 'histogram' || color === 'statistics';
  const levels = kind === 'adain' ? [4 as const] : (o.levels as DistilledLevel[] | undefined);
  const styles: RgbImage[] = [];
  for (const path of ctx.styles) styles.push(await readImageFile(path));
  const mask = o.mask ? await readImageFile(o.mask) : null;
  const nets = await DistilledVgg.loadPretrained(ctx.runtime, ctx.store);
  const started = performance.now();
  try {
    const stylizer = new DistilledStylizer(nets, kind);
    process.stderr.write(`${kind}: distilled VGG-19 nets, levels ${(levels ?? stylizer.defaultLevels).join(',')}; α=${o.alpha}\n`);
    await ctx.batch.forEach(async (contentPath, out) => {
      let content = await readImageFile(contentPath);
      if (o.size) content = resizeToLongSide(content, o.size);
      const styleSize = o.styleScale !== undefined && o.styleScale !== 1 ? Math.max(16, Math.round(Math.max(content.width, content.height) * o.styleScale)) : undefined;
      const t0 = performance.now();
      let result = await stylizer.stylize(content, styles, {
        alpha: o.alpha,
        levels,
        weights: ctx.styleWeights,
        mask,
        preserveColor: statistics,
        styleSize,
        tileSize: o.tile,
      });
      if (luminance) result = combineLuminance(result, content);
      await writeImageFile(out, result);
      process.stderr.write(`${contentPath} → ${out} (${content.width}×${content.height}, ${seconds(performance.now() - t0)})\n`);
    });
    process.stderr.write(`done: ${ctx.contents.length} image(s) in ${seconds(performance.now() - started)}\n`);
  } finally {
    nets.dispose();
  }
}
