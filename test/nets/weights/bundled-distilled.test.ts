import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DistilledVgg, DISTILLED_LEVELS } from '../../../src/nets/models/distilled-vgg.ts';
import { DistilledStylizer } from '../../../src/nets/methods/wct/stylizer.ts';
import { parseSafetensors } from '../../../src/nets/weights/formats/safetensors.ts';
import { findModel, loadWeightsManifest } from '../../../src/nets/weights/manifest.ts';
import { greyLevelError, readGoldenImage, readGoldenNhwc } from '../../helpers/distilled-goldens.ts';
import { useRuntime } from '../../helpers/gpu.ts';
import { relativeL2 } from '../../helpers/oracle.ts';
import { REPO_ROOT } from '../../helpers/shared-data.ts';

const runtime = useRuntime();

describe('the bundled f16 distilled-16x nets', () => {
  it('are the file the manifest pins, with their licence beside them', async () => {
    const entry = findModel(await loadWeightsManifest(), 'distilled-16x').bundled!;
    expect(entry.path).toBe('distilled-16x.safetensors');
    const bytes = readFileSync(join(REPO_ROOT, 'weights', 'bundled', ...entry.path.split('/')));
    expect(bytes.length).toBe(entry.bytes);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(entry.sha256);
    expect(readFileSync(join(REPO_ROOT, 'weights', 'bundled', 'distilled-16x.LICENSE'), 'utf8')).toMatch(/MIT License[\s\S]*Copyright \(c\) 2020 Huan Wang/);
  });

  it('stay within f16 rounding of the goldens: levels to 2e-3 relative, WCT within a grey level', async () => {
    const entry = findModel(await loadWeightsManifest(), 'distilled-16x').bundled!;
    const { tensors } = parseSafetensors(new Uint8Array(readFileSync(join(REPO_ROOT, 'weights', 'bundled', ...entry.path.split('/')))), entry.path);
    const rt = runtime();
    const nets = DistilledVgg.fromHost(rt, tensors, 'bundled distilled-16x');
    const golden = readGoldenNhwc('wct16x-levels');
    const image = await readGoldenImage('wct16x-levels.input.png');
    const input = rt.upload(image.data.map((v) => v / 255), [1, image.height, image.width, 3]);
    const errors: string[] = [];
    for (const level of DISTILLED_LEVELS) {
      const features = nets.encode(level, input);
      const decoded = nets.decode(level, features);
      const enc = relativeL2(await features.data(), golden.get(`enc${level}`)!.data);
      const dec = relativeL2(await decoded.data(), golden.get(`dec${level}`)!.data);
      errors.push(`enc${level} ${enc.toExponential(1)} dec${level}∘enc${level} ${dec.toExponential(1)}`);
      expect(enc, `enc${level}`).toBeLessThan(2e-3);
      expect(dec, `dec${level}`).toBeLessThan(2e-3);
      features.dispose();
      decoded.dispose();
    }
    input.dispose();
    const stylizer = new DistilledStylizer(nets, 'wct');
    const content = await readGoldenImage('wct16x-stylize.content.png');
    const style = await readGoldenImage('wct16x-stylize.style.png');
    const png = greyLevelError(await stylizer.stylize(content, [style], { alpha: 0.6 }), await readGoldenImage('wct16x-stylize.output.png'));
    console.log(`bundled f16 vs goldens: ${errors.join(', ')}; WCT PNG mean ${png.mean.toFixed(3)} max ${png.max}`);
    expect(png.mean).toBeLessThanOrEqual(1);
    nets.dispose();
  });
});
