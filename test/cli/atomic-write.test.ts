import { existsSync, mkdtempSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { removeStaleTempFiles, STALE_TEMP_AGE_MS, writeFileAtomic } from '../../src/io/atomic-write.ts';

describe('writeFileAtomic', () => {
  it('removes its own stale temporary files for the same target, and nothing else', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pastiche-atomic-'));
    const old = (Date.now() - STALE_TEMP_AGE_MS - 60_000) / 1000;
    const files = {
      staleOwn: '.out.png.0123456789ab.tmp',
      freshOwn: '.out.png.ba9876543210.tmp',
      otherTarget: '.other.png.0123456789ab.tmp',
      notOurPattern: '.out.png.backup.tmp',
      userFile: 'out.png.0123456789ab.tmp',
    };
    for (const [key, name] of Object.entries(files)) {
      writeFileSync(join(dir, name), 'x');
      if (key !== 'freshOwn') utimesSync(join(dir, name), old, old);
    }
    await writeFileAtomic(join(dir, 'out.png'), 'result');
    expect(readdirSync(dir).sort()).toEqual(['out.png', ...Object.values(files).filter((name) => name !== files.staleOwn)].sort());
  });

  it('removes stale temporaries of another extension when asked (the weight store’s .part files)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pastiche-atomic-'));
    const old = (Date.now() - STALE_TEMP_AGE_MS - 60_000) / 1000;
    const names = ['.candy.bin.0123456789ab.part', '.candy.bin.0123456789ab.tmp', '.candy.bin.0123456789abc.part'];
    for (const name of names) {
      writeFileSync(join(dir, name), 'x');
      utimesSync(join(dir, name), old, old);
    }
    expect(await removeStaleTempFiles(join(dir, 'candy.bin'), STALE_TEMP_AGE_MS, Date.now(), 'part')).toEqual([join(dir, names[0]!)]);
    expect(readdirSync(dir).sort()).toEqual(names.slice(1).sort());
  });

  it('names the target and the fix when it cannot write, never the temporary file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pastiche-atomic-'));
    writeFileSync(join(dir, 'file'), 'x');
    const target = join(dir, 'file', 'out.png');
    const failure = writeFileAtomic(target, 'result');
    await expect(failure).rejects.toThrow(`cannot write ${target}: a part of ${join(dir, 'file')} is a file, not a folder; choose another output path`);
    await expect(writeFileAtomic(target, 'result')).rejects.not.toThrow(/\.tmp/);
    const folderTarget = join(dir, 'folder');
    await writeFileAtomic(join(folderTarget, 'inner'), 'x');
    await expect(writeFileAtomic(folderTarget, 'result')).rejects.toThrow(`cannot write ${folderTarget}: it is a folder; give a file name`);
    expect(readdirSync(folderTarget)).toEqual(['inner']);
    expect(existsSync(join(dir, 'file'))).toBe(true);
  });
});
