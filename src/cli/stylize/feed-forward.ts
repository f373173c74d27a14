import { readImageFile, writeImageFile } from '../../io/image-file.ts';
import { resizeToLongSide } from '../../io/resize.ts';
import { stylizeFeedForward } from '../../nets/methods/feed-forward/feed-forward.ts';
import { loadFeedForwardModel } from '../../nets/methods/feed-forward/node/load-model.ts';
import type { StylizeContext } from './context.ts';

/** `--method transformer`: one forward pass of a pretrained (or trained) feed-forward net per image. */
export async function runFeedForwardMethod(ctx: StylizeContext): Promise<void> {
  const modelName = ctx.options.model;
  if (!modelName) throw new Error('--method transformer needs --model NAME (candy, mosaic, pointilism, rain_princess, udnie, mathura, matilde_perez, matta) or --model PATH.safetensors');
  const started = performance.now();
  const net = await loadFeedForwardModel(ctx.runtime, modelName, ctx.store);
  try {
    await ctx.batch.forEach(async (content, out) => {
      let image = await readImageFile(content);
      if (ctx.options.size) image = resizeToLongSide(image, ctx.options.size);
      const t0 = performance.now();
      const result = await stylizeFeedForward(net, image, { tileSize: ctx.options.tile });
      await writeImageFile(out, result);
      process.stderr.write(`${content} → ${out} (${image.width}×${image.height}, ${((performance.now() - t0) / 1000).toFixed(2)} s)\n`);
    });
  } finally {
    net.dispose();
  }
  process.stderr.write(`done: ${ctx.batch.outcome().written} image(s) with '${modelName}' in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
}
