/**
 * Files the weight store derives itself (converted safetensors) have no checksum in the manifest, so
 * each one gets a record beside it when it is written: `<file>.sha256`, one line in the format of
 * `sha256sum` (`sha256sum -c` checks it by hand). Every read hashes the bytes it returns against that
 * record, so a flipped or missing byte is noticed before it becomes a wrong image. Node only.
 *
 * Order of writes: the file first, then its record, each atomically. A crash in between leaves a file
 * without a record, which reads as damaged and is rebuilt; never a record vouching for other bytes.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { writeFileAtomic } from '../../../io/atomic-write.ts';

export type ChecksummedRead =
  | { state: 'missing' }
  | { state: 'ok'; bytes: Uint8Array }
  /** `problem` says what is wrong, for messages (e.g. "sha256 … does not match the recorded …") */
  | { state: 'damaged'; problem: string };

/** Path of the checksum record of `path`. */
export function checksumRecordPath(path: string): string {
  return `${path}.sha256`;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Writes `bytes` to `path` atomically, then its checksum record. */
export async function writeChecksummedFile(path: string, bytes: Uint8Array): Promise<void> {
  await writeFileAtomic(path, bytes);
  await writeFileAtomic(checksumRecordPath(path), `${sha256Hex(bytes)}  ${basename(path)}\n`);
}

/**
 * The bytes of `path` if they match its checksum record; 'missing' when the file does not exist;
 * 'damaged' when the record is missing or unreadable or the bytes differ from it.
 */
export async function readChecksummedFile(path: string): Promise<ChecksummedRead> {
  const bytes = await readIfPresent(path);
  if (bytes === null) return { state: 'missing' };
  const recordPath = checksumRecordPath(path);
  const record = await readIfPresent(recordPath);
  if (record === null) return { state: 'damaged', problem: `its checksum record ${recordPath} is missing` };
  const expected = /^([0-9a-f]{64}) {2}\S/.exec(new TextDecoder().decode(record))?.[1];
  if (expected === undefined) return { state: 'damaged', problem: `its checksum record ${recordPath} is not a "<sha256>  <name>" line` };
  const actual = sha256Hex(bytes);
  if (actual !== expected) {
    return { state: 'damaged', problem: `its ${bytes.length} bytes have sha256 ${actual}, not the recorded ${expected}` };
  }
  return { state: 'ok', bytes };
}

/** True when a checksum record exists for `path`. */
export async function hasChecksumRecord(path: string): Promise<boolean> {
  return (await readIfPresent(checksumRecordPath(path))) !== null;
}

async function readIfPresent(path: string): Promise<Uint8Array | null> {
  try {
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR') return null;
    throw err;
  }
}
