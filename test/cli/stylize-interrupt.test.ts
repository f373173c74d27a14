import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readImageFile } from '../../src/io/image-file.ts';
import { REPO_ROOT, testStoreOptions } from '../helpers/shared-data.ts';
import { IMAGES, writeSmallPhoto } from './stylize-helpers.ts';

describe('pastiche stylize and Ctrl-C', () => {
  it('gatys writes the best image so far and exits 130', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pastiche-stylize-sigint-'));
    const content = join(dir, 'photo.png');
    await writeSmallPhoto(content, 32);
    const out = join(dir, 'out.png');
    const args = ['--import', 'tsx', join(REPO_ROOT, 'src/cli/main.ts'), 'stylize', content, '-s', join(IMAGES, 'starry_night_vangogh.jpg'), '-m', 'gatys'];
    args.push('--size', '32', '--optimizer', 'adam', '--iterations', '100000', '--mirror', testStoreOptions().mirrorDir, '-o', out);
    const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let interrupted = false;
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      // The first progress line means the optimisation is running: interrupt it there.
      if (!interrupted && /\[1\/\d+\]/.test(stderr)) {
        interrupted = true;
        child.kill('SIGINT');
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', (exitCode) => resolve(exitCode)));
    expect(interrupted, stderr).toBe(true);
    expect(stderr).toContain('stopping after this iteration');
    expect(stderr).toContain('interrupted: 1 of 1 written');
    expect(code).toBe(130);
    expect(existsSync(out)).toBe(true);
    expect((await readImageFile(out)).width).toBe(32);
  }, 300_000);
});
