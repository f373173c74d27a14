import { readImageFile, writeImageFile } from '../../io/image-file.ts';
import { resizeToLongSide } from '../../io/resize.ts';
import { blendEmbeddings, Magenta } from '../../nets/methods/magenta/magenta.ts';
import type { StylizeContext } from './context.ts';

const seconds = (since: number): string => ((performance.now() - since) / 1000).toFixed(2);

/**
 * `--method magenta`: arbitrary style transfer (Ghiasi et al.). Each --style image becomes a style
 * embedding; several are blended with --style-weight; --strength mixes in each content image's own
 * embedding. Content keeps its size (or --size for the long side).
 */
export async function runMagentaMethod(ctx: StylizeContext): Promise<void> {
  if (ctx.styles.length === 0) throw new Error('--method magenta needs at least one --style image');
  const strength = ctx.options.strength;
  if (!(strength >= 0 && strength <= 1)) throw new Error(`--strength must be in [0, 1], got ${strength}`);
  const started = performance.now();
  const net = await Magenta.load(ctx.runtime, ctx.store);
  try {
    process.stderr.write(`magenta: models ready (${seconds(started)} s)\n`);
    const embeddings: Float32Array[] = [];
    for (const style of ctx.styles) {
      const t0 = performance.now();
      embeddings.push(await net.predictStyle(await readImageFile(style)));
      process.stderr.write(`style ${style}: embedding in ${seconds(t0)} s\n`);
    }
    const styleEmbedding = blendEmbeddings(embeddings, ctx.styleWeights.length === embeddings.length ? ctx.styleWeights : undefined);
    await ctx.batch.forEach(async (content, out) => {
      let image = await readImageFile(content);
      if (ctx.options.size) image = resizeToLongSide(image, ctx.options.size);
      const t0 = performance.now();
      const result = await net.stylize(image, styleEmbedding, { strength });
      await writeImageFile(out, result);
      process.stderr.write(`${content} → ${out} (${image.width}×${image.height}, strength ${strength}, ${seconds(t0)} s)\n`);
    });
  } finally {
    net.dispose();
  }
  process.stderr.write(`done: ${ctx.batch.outcome().written} image(s), ${ctx.styles.length} style(s) in ${seconds(started)} s\n`);
}
