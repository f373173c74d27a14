/**
 * The README's "Library" example, run exactly as written: its code block is copied out of README.md
 * and imported (resolving `from 'pastiche'` to the Node entry), in a folder holding the files it names.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, expect, it, vi } from 'vitest';
import { readImageFile } from '../../src/io/image-file.ts';
import { REPO_ROOT, testStoreOptions } from '../helpers/shared-data.ts';
import { writeSmallPhoto } from '../cli/stylize-helpers.ts';

/** The first ```ts block after the "### Library" heading. */
function libraryExample(readme: string): string {
  const section = readme.indexOf('\n### Library\n');
  if (section < 0) throw new Error('README.md has no "### Library" section');
  const match = /```ts\n([\s\S]*?)```/.exec(readme.slice(section));
  if (!match) throw new Error('the "### Library" section of README.md has no ```ts block');
  return match[1]!;
}

const cwd = process.cwd();
afterAll(() => process.chdir(cwd));

it("runs the README's Library example as written", async () => {
  process.env.PASTICHE_WEIGHTS_MIRROR ??= testStoreOptions().mirrorDir;
  const code = libraryExample(readFileSync(join(REPO_ROOT, 'README.md'), 'utf8'));
  expect(code).toMatch(/from 'pastiche';/);
  const dir = mkdtempSync(join(tmpdir(), 'pastiche-readme-'));
  await writeSmallPhoto(join(dir, 'photo.jpg'), 40);
  await writeSmallPhoto(join(dir, 'other.png'), 32, 'content_coffee.png');
  await writeSmallPhoto(join(dir, 'painting.jpg'), 48, 'starry_night_vangogh.jpg');
  const file = join(dir, 'example.ts');
  await writeFile(file, code);
  const logged: unknown[][] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void logged.push(args));
  process.chdir(dir);
  try {
    await import(/* @vite-ignore */ pathToFileURL(file).href);
  } finally {
    process.chdir(cwd);
    log.mockRestore();
  }
  for (const [name, width] of [['photo-mathura.png', 40], ['photo-painted.png', 40], ['other-painted.png', 32]] as const) {
    expect(existsSync(join(dir, name)), name).toBe(true);
    expect((await readImageFile(join(dir, name))).width).toBe(width);
  }
  // The Gatys run was stopped by its signal and said so.
  expect(logged).toEqual([[true, expect.stringContaining('feed-forward, magenta')]]);
});
