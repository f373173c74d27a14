// The offline first run: `pastiche stylize samples/<photo>` with no options, bundled weights only,
// and `--version` / the download bar that go with it.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { downloadProgress } from '../../src/cli/download-progress.ts';
import { buildProgram } from '../../src/cli/program.ts';
import { readImageFile } from '../../src/io/image-file.ts';
import { REPO_ROOT } from '../helpers/shared-data.ts';
import { runStylize } from './stylize-helpers.ts';

const temporaryDirs: string[] = [];
function tempDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `pastiche-${label}-`));
  temporaryDirs.push(dir);
  return dir;
}

const savedEnv = { ...process.env };
afterEach(() => {
  process.env = { ...savedEnv };
  for (const dir of temporaryDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('pastiche with its defaults', () => {
  it('stylizes a repository sample with no options, no mirror and an empty cache (bundled mathura)', async () => {
    process.env.PASTICHE_WEIGHTS_MIRROR = '';
    const cacheDir = tempDir('cache');
    process.env.PASTICHE_CACHE_DIR = cacheDir;
    delete process.env.PASTICHE_BUNDLED_DIR;
    const out = join(tempDir('out'), 'out.png');
    const run = await runStylize([join(REPO_ROOT, 'samples', 'chelsea.png'), '--size', '64', '-o', out]);
    expect(run.error).toBeUndefined();
    expect(run.exitCode).toBe(0);
    expect(run.stderr).toMatch(/loading 'mathura'\n.*: feed-forward/);
    const image = await readImageFile(out);
    expect([image.width, image.height]).toEqual([64, 43]);
    expect(readdirSync(cacheDir)).toEqual([]);
  });

  it('picks magenta when --style is given without --method or --model (checked before any work)', async () => {
    const sample = join(REPO_ROOT, 'samples', 'chelsea.png');
    const style = join(REPO_ROOT, 'samples', 'great-wave.jpg');
    const out = join(tempDir('out'), 'out.png');
    expect((await runStylize([sample, '--style', style, '--alpha', '0.5', '-o', out])).error?.message).toMatch(/--alpha is not used by --method magenta/);
    expect((await runStylize([sample, '--model', 'mosaic', '--alpha', '0.5', '-o', out])).error?.message).toMatch(/--alpha is not used by --method feed-forward/);
  });

  it('prints the package version', async () => {
    const written: string[] = [];
    const program = buildProgram()
      .exitOverride()
      .configureOutput({ writeOut: (s) => written.push(s) });
    await expect(program.parseAsync(['--version'], { from: 'user' })).rejects.toMatchObject({ code: 'commander.version' });
    const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(written.join('')).toBe(`${version}\n`);
  });

  it('announces each downloaded file with its size and keeps cache and mirror copies quiet', () => {
    const lines: string[] = [];
    const report = downloadProgress(false, (line) => lines.push(line));
    const file = { model: 'candy', file: 'transformer-net/candy.bin', bytesTotal: 3_368_140 };
    report({ ...file, source: 'cache', bytesDone: 3_368_140 });
    report({ ...file, source: 'mirror', bytesDone: 1000 });
    report({ ...file, source: 'download', bytesDone: 0 });
    report({ ...file, source: 'download', bytesDone: 1_000_000 });
    report({ ...file, source: 'download', bytesDone: 3_368_140 });
    expect(lines).toEqual(['downloading candy: transformer-net/candy.bin (3.4 MB) into the weights cache\n']);
  });
});
