import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it, vi } from 'vitest';
import { registerFeaturesCommand } from '../../src/cli/commands/features.ts';
import { vggFromTorchvision, vggLayers } from '../../src/nets/models/vgg.ts';
import { convOihwToHwio } from '../../src/nets/weights/formats/pth.ts';
import { parseSafetensors } from '../../src/nets/weights/formats/safetensors.ts';
import type { HostTensorMap } from '../../src/nets/weights/host-tensor.ts';
import { relativeL2 } from '../helpers/oracle.ts';
import { sharedReferencePath, testStoreOptions } from '../helpers/shared-data.ts';

async function runFeatures(args: string[]): Promise<void> {
  const program = new Command().exitOverride();
  registerFeaturesCommand(program);
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    await program.parseAsync(['features', ...args], { from: 'user' });
  } finally {
    err.mockRestore();
  }
}

describe('pastiche features', () => {
  it('writes the requested taps at the image size, matching the reference', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'pastiche-features-')), 'feats.safetensors');
    await runFeatures([sharedReferencePath('vgg19.input.png'), '--layers', 'relu1_1,relu3_1', '--out', out, '--mirror', testStoreOptions().mirrorDir]);
    const written = parseSafetensors(new Uint8Array(readFileSync(out)), out).tensors;
    const reference = parseSafetensors(new Uint8Array(readFileSync(sharedReferencePath('vgg19.safetensors'))), 'reference').tensors;
    expect([...written.keys()]).toEqual(['relu1_1', 'relu3_1']);
    for (const name of ['relu1_1', 'relu3_1']) {
      expect(written.get(name)!.shape).toEqual([1, ...reference.get(name)!.shape]);
      expect(relativeL2(written.get(name)!.data, reference.get(name)!.data)).toBeLessThan(1e-3);
    }
  });

  it('rejects unknown layers, naming the valid ones', async () => {
    await expect(runFeatures([sharedReferencePath('vgg19.input.png'), '--layers', 'relu9_9', '--out', '/tmp/x.safetensors'])).rejects.toThrow(/unknown vgg19 layer\(s\) relu9_9; taps are conv1_1/);
  });

  it('maps a torchvision VGG16 state_dict onto the conv layers, OIHW → HWIO', () => {
    const sd: HostTensorMap = new Map();
    const indices = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28];
    vggLayers('vgg16').forEach((l, i) => {
      const size = l.outChannels * l.inChannels * 9;
      sd.set(`features.${indices[i]}.weight`, { shape: [l.outChannels, l.inChannels, 3, 3], data: Float32Array.from({ length: size }, (_, k) => k) });
      sd.set(`features.${indices[i]}.bias`, { shape: [l.outChannels], data: new Float32Array(l.outChannels) });
    });
    const mapped = vggFromTorchvision(sd, 'vgg16', convOihwToHwio);
    expect(mapped.get('conv5_3.weight')!.shape).toEqual([3, 3, 512, 512]);
    // Element [kh=1, kw=2, in=1, out=0] comes from OIHW [0, 1, 1, 2] = 1·9 + 1·3 + 2.
    expect(mapped.get('conv1_1.weight')!.data[((1 * 3 + 2) * 3 + 1) * 64 + 0]).toBe(14);
    expect(() => vggFromTorchvision(new Map(), 'vgg19', convOihwToHwio)).toThrow(/features\.0\.weight/);
  });
});
