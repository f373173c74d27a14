import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checksumRecordPath, readChecksummedFile, sha256Hex, writeChecksummedFile } from '../../../src/nets/weights/node/checksummed-file.ts';

const temporaryDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pastiche-checksummed-'));
  temporaryDirs.push(dir);
  return dir;
}

afterEach(() => {
  for (const dir of temporaryDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('checksummed files', () => {
  it('writes a record that sha256sum -c accepts, and reads the bytes back', async () => {
    const dir = tempDir();
    const path = join(dir, 'model.safetensors');
    const bytes = new Uint8Array([1, 2, 3, 250]);
    await writeChecksummedFile(path, bytes);
    expect(execFileSync('sha256sum', ['-c', 'model.safetensors.sha256'], { cwd: dir, encoding: 'utf8' })).toBe('model.safetensors: OK\n');
    const read = await readChecksummedFile(path);
    expect(read.state === 'ok' && Array.from(read.bytes)).toEqual([1, 2, 3, 250]);
  });

  it('reports a missing file, a changed byte, a missing record and a malformed record', async () => {
    const path = join(tempDir(), 'model.safetensors');
    expect(await readChecksummedFile(path)).toEqual({ state: 'missing' });
    await writeChecksummedFile(path, new Uint8Array([1, 2, 3]));
    writeFileSync(path, new Uint8Array([1, 2, 4]));
    expect(await readChecksummedFile(path)).toEqual({
      state: 'damaged',
      problem: `its 3 bytes have sha256 ${sha256Hex(new Uint8Array([1, 2, 4]))}, not the recorded ${sha256Hex(new Uint8Array([1, 2, 3]))}`,
    });
    writeFileSync(checksumRecordPath(path), 'not a checksum\n');
    expect(await readChecksummedFile(path)).toEqual({ state: 'damaged', problem: `its checksum record ${path}.sha256 is not a "<sha256>  <name>" line` });
    rmSync(checksumRecordPath(path));
    expect(await readChecksummedFile(path)).toEqual({ state: 'damaged', problem: `its checksum record ${path}.sha256 is missing` });
  });
});
