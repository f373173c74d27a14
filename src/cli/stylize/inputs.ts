/** The checks on a stylize run's input images before any model is loaded. */
import { open } from 'node:fs/promises';
import { describeFileKind, sniffFileKind, type FileKind } from '../../io/file-kind.ts';
import { readImageHeader } from '../../io/image-file.ts';
import type { BatchFailure } from './batch.ts';

export interface CheckedContents {
  valid: string[];
  failed: BatchFailure[];
}

/** Reads each content image's header (exists, readable, PNG or JPEG with a size); bad ones are set aside with the reason. */
export async function checkContentImages(contents: readonly string[]): Promise<CheckedContents> {
  const valid: string[] = [];
  const failed: BatchFailure[] = [];
  for (const content of contents) {
    try {
      await readImageHeader(content);
      valid.push(content);
    } catch (err) {
      failed.push({ content, reason: err instanceof Error ? err.message : String(err) });
    }
  }
  return { valid, failed };
}

/** Style images and the mask are shared by every result, so any bad one stops the run before it starts. */
export async function checkSharedImages(paths: readonly { path: string; role: string }[]): Promise<void> {
  for (const { path, role } of paths) {
    try {
      await readImageHeader(path);
    } catch (err) {
      throw new Error(`${role}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }
}

/** Which file kinds each model option reads. */
const MODEL_FILE_KINDS: Record<'--model' | '--decoder', { kinds: readonly FileKind[]; takes: string }> = {
  '--model': { kinds: ['safetensors', 'zip', 'pickle'], takes: 'a model name, a .safetensors/.pth file, or an ml5 checkpoint folder' },
  '--decoder': { kinds: ['safetensors', 'zip', 'pickle'], takes: 'an AdaIN decoder: a .safetensors from pastiche train adain, or the PyTorch decoder.pth' },
};

/**
 * Checks a model file given on the command line before the GPU starts: that it is a kind of file the
 * option reads, and for safetensors that it holds the right kind of net (a feed-forward style given as
 * --decoder, or an AdaIN decoder given as --model). Names and folders are left to the loaders.
 */
export async function checkModelFile(option: '--model' | '--decoder', path: string): Promise<void> {
  let file;
  try {
    file = await open(path, 'r');
  } catch {
    return; // a model name, or missing: the loader says which
  }
  try {
    if ((await file.stat()).isDirectory()) return;
    const head = new Uint8Array(64 * 1024);
    const { bytesRead } = await file.read(head, 0, head.length, 0);
    const bytes = head.subarray(0, bytesRead);
    const kind = sniffFileKind(bytes);
    const { kinds, takes } = MODEL_FILE_KINDS[option];
    if (!kinds.includes(kind)) throw new Error(`${option} ${path}: this is ${describeFileKind(kind)}, not a model file; ${option} takes ${takes}`);
    if (kind === 'safetensors') checkNetKind(option, path, safetensorsNames(bytes));
  } finally {
    await file.close();
  }
}

/** Tensor names and metadata in a safetensors header, when the header fits in `bytes`. */
function safetensorsNames(bytes: Uint8Array): string[] {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true));
  if (8 + length > bytes.length) return [];
  try {
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length))) as Record<string, unknown>;
    const format = (header.__metadata__ as Record<string, unknown> | undefined)?.format;
    return [...Object.keys(header), ...(typeof format === 'string' ? [`format:${format}`] : [])];
  } catch {
    return []; // the loader reports the damage
  }
}

function checkNetKind(option: '--model' | '--decoder', path: string, names: readonly string[]): void {
  const feedForward = names.includes('conv1.conv2d.weight') || names.includes('conv1.norm.scale');
  const decoder = names.some((n) => n.startsWith('format:') && /adain/i.test(n));
  if (option === '--decoder' && feedForward) {
    throw new Error(`--decoder ${path}: this file holds a feed-forward style net, not an AdaIN decoder; use it with --method transformer --model ${path}`);
  }
  if (option === '--model' && decoder) {
    throw new Error(`--model ${path}: this file holds an AdaIN decoder, not a feed-forward style net; use it with --method adain --decoder ${path}`);
  }
}
