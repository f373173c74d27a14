import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { registerWeightsCommand } from '../../../src/cli/commands/weights.ts';
import { SHARED_WEIGHTS_DIR } from '../../helpers/shared-data.ts';

const temporaryDirs: string[] = [];
function tempDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `pastiche-${label}-`));
  temporaryDirs.push(dir);
  return dir;
}

/** Runs `pastiche weights ...args`, returning what it printed to stdout. */
async function runWeights(args: string[]): Promise<string> {
  const program = new Command().exitOverride();
  registerWeightsCommand(program);
  let stdout = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    await program.parseAsync(['weights', ...args], { from: 'user' });
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
  return stdout;
}

afterEach(() => {
  for (const dir of temporaryDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('pastiche weights', () => {
  it('fetches and converts the named models from a mirror, then reports them as verified', async () => {
    const cache = tempDir('cache');
    const first = await runWeights(['candy', 'magenta-transfer', '--mirror', SHARED_WEIGHTS_DIR, '--cache', cache]);
    expect(first).toContain(`weights cache: ${cache}`);
    expect(first).toMatch(/candy\s+transformer-net\s+3\.4 MB\s+fetched 3\.4 MB\s+converted\n/);
    expect(first).toMatch(/magenta-transfer\s+magenta\s+0\.3 MB\s+fetched 0\.3 MB\s+converted\n/);
    expect(existsSync(join(cache, 'candy.safetensors'))).toBe(true);

    const second = await runWeights(['candy', 'magenta-transfer', '--mirror', SHARED_WEIGHTS_DIR, '--cache', cache]);
    expect(second).toMatch(/candy\s+transformer-net\s+3\.4 MB\s+ok\s+ok\n/);
    expect(second).toMatch(/magenta-transfer\s+magenta\s+0\.3 MB\s+ok\s+reused \(no checksum record\)\n/);
    const third = await runWeights(['candy', '--mirror', SHARED_WEIGHTS_DIR, '--cache', cache, '--no-convert']);
    expect(third).toMatch(/candy\s+transformer-net\s+3\.4 MB\s+ok\s+ok\n/);
  });

  it('re-verifies cached files and repairs damaged ones, saying so', async () => {
    const cache = tempDir('cache');
    await runWeights(['candy', '--mirror', SHARED_WEIGHTS_DIR, '--cache', cache]);
    const converted = join(cache, 'candy.safetensors');
    const intact = readFileSync(converted);
    const flipped = Buffer.from(intact);
    flipped[flipped.length - 1000] = flipped[flipped.length - 1000]! ^ 0x01;
    writeFileSync(converted, flipped);

    const checkOnly = await runWeights(['candy', '--mirror', SHARED_WEIGHTS_DIR, '--cache', cache, '--no-convert']);
    expect(checkOnly).toMatch(/candy\s+transformer-net\s+3\.4 MB\s+ok\s+DAMAGED \(run without --no-convert to repair\)\n/);
    expect(readFileSync(converted).equals(flipped)).toBe(true);

    const repaired = await runWeights(['candy', '--mirror', SHARED_WEIGHTS_DIR, '--cache', cache]);
    expect(repaired).toMatch(/candy\s+transformer-net\s+3\.4 MB\s+ok\s+repaired\n/);
    expect(repaired).not.toContain('already cached');
    expect(readFileSync(converted).equals(intact)).toBe(true);

    // A truncated source and a truncated converted file: both replaced, both reported.
    truncateSync(join(cache, 'transformer-net', 'candy.bin'), 1000);
    truncateSync(converted, 1000);
    const both = await runWeights(['candy', '--mirror', SHARED_WEIGHTS_DIR, '--cache', cache]);
    expect(both).toMatch(/candy\s+transformer-net\s+3\.4 MB\s+repaired 1 file \(3\.4 MB\)\s+repaired\n/);
    expect(readFileSync(converted).equals(intact)).toBe(true);
  });

  it('names the mirror folder and the file it lacks', async () => {
    const mirror = tempDir('mirror');
    await expect(runWeights(['mosaic', '--mirror', mirror, '--cache', tempDir('cache')])).rejects.toThrow(
      `mosaic: transformer-net/mosaic.bin is missing from the weights mirror ${mirror} (looked for ${join(mirror, 'transformer-net', 'mosaic.bin')})`,
    );
  });

  it('fails with the reason when a mirror file is damaged', async () => {
    const mirror = tempDir('mirror');
    mkdirSync(join(mirror, 'transformer-net'));
    writeFileSync(join(mirror, 'transformer-net', 'udnie.bin'), new Uint8Array(1000));
    await expect(runWeights(['udnie', '--mirror', mirror, '--cache', tempDir('cache')])).rejects.toThrow(
      /1 of 1 models failed:\n {2}udnie: transformer-net\/udnie\.bin failed verification/,
    );
  });

  it('rejects an unknown model name, listing the known ones', async () => {
    await expect(runWeights(['nosuch', '--cache', tempDir('cache')])).rejects.toThrow(/unknown model "nosuch"; known models: vgg19/);
  });
});
