/**
 * Reads PyTorch checkpoints (`torch.save(state_dict, path)`, PyTorch ≥ 1.6 zip format) into
 * host tensors, without running any of the Python the format could name.
 *
 * The zip holds `<prefix>/data.pkl`, a pickle of the state_dict (see `torch-pickle.ts`) whose
 * storages' raw little-endian bytes are the entries `<prefix>/data/<key>`. Files in the legacy
 * (pre-1.6, non-zip) layout go to `legacy-torch.ts`.
 *
 * Tensors keep PyTorch's layout (conv weights [out, in, kh, kw]); nets convert what they
 * need with `convOihwToHwio`.
 */
import { hostTensor, type HostTensor, type HostTensorMap } from '../host-tensor.ts';
import { looksLikeLegacyTorch, readLegacyTorch } from './legacy-torch.ts';
import { gatherTensor, stateDictTensors, unpickleCheckpoint, type StorageRef } from './torch-pickle.ts';
import { clipText } from './message-text.ts';
import { looksLikeZip, openZip, type ZipArchive } from './zip-reader.ts';

const OLD_FORMAT_FIX =
  'Re-save it with PyTorch ≥ 1.6: `torch.save(torch.load(old_path), new_path)` ' +
  '(a state_dict: `torch.save(model.state_dict(), path)`).';

/**
 * Reads every tensor of a state_dict `.pth` file, keyed as in the state_dict, converted to
 * float32 and kept in PyTorch layout. A state_dict nested under `state_dict`, `model` etc. is
 * unwrapped; entries that aren't tensors are skipped. Legacy (non-zip) files are read too.
 */
export async function readPth(bytes: Uint8Array, sourceName = 'checkpoint'): Promise<HostTensorMap> {
  if (looksLikeLegacyTorch(bytes)) return readLegacyTorch(bytes, sourceName);
  rejectNonZipFormats(bytes, sourceName);
  const zip = openZip(bytes, { sourceName });
  const pickleName = findDataPickle(zip, sourceName);
  const prefix = pickleName.slice(0, pickleName.length - 'data.pkl'.length);
  const littleEndian = await readByteOrder(zip, prefix, sourceName);

  const storages = new Map<string, StorageRef>();
  const root = unpickleCheckpoint(await zip.read(pickleName), sourceName, storages, pickleName).value;
  const tensorRefs = stateDictTensors(root, sourceName);
  // Storage bytes are cached while views of them remain, then dropped, so inflated
  // (DEFLATE) storages don't all stay in memory at once.
  const viewsLeft = new Map<string, number>();
  for (const [, tensor] of tensorRefs) viewsLeft.set(tensor.storage.key, (viewsLeft.get(tensor.storage.key) ?? 0) + 1);
  const storageBytes = new Map<string, Uint8Array>();

  const tensors: HostTensorMap = new Map();
  for (const [key, value] of tensorRefs) {
    const storageKey = value.storage.key;
    const bytes = storageBytes.get(storageKey) ?? (await readStorageBytes(zip, prefix, value.storage, sourceName));
    const remaining = viewsLeft.get(storageKey)! - 1;
    viewsLeft.set(storageKey, remaining);
    if (remaining > 0) storageBytes.set(storageKey, bytes);
    else storageBytes.delete(storageKey);
    const data = gatherTensor(value, bytes, littleEndian, `${sourceName}: tensor '${clipText(key)}'`);
    tensors.set(key, hostTensor(value.size, data));
  }
  return tensors;
}

/**
 * Converts a PyTorch conv kernel [out, in, kh, kw] to pastiche's HWIO [kh, kw, in, out].
 * The same permutation turns a ConvTranspose2d kernel [in, out, kh, kw] into [kh, kw, out, in],
 * which is pastiche's transposed-conv layout.
 */
export function convOihwToHwio(t: HostTensor): HostTensor {
  if (t.shape.length !== 4) {
    throw new Error(`convOihwToHwio: expected a 4-D [out, in, kh, kw] kernel, got shape [${t.shape.join(', ')}]`);
  }
  const [outs, ins, height, width] = t.shape as [number, number, number, number];
  const result = new Float32Array(t.data.length);
  let from = 0;
  for (let o = 0; o < outs; o++) {
    for (let i = 0; i < ins; i++) {
      for (let h = 0; h < height; h++) {
        for (let w = 0; w < width; w++) {
          result[((h * width + w) * ins + i) * outs + o] = t.data[from++]!;
        }
      }
    }
  }
  return hostTensor([height, width, ins, outs], result);
}

function rejectNonZipFormats(bytes: Uint8Array, sourceName: string): void {
  if (looksLikeZip(bytes)) return;
  const isTar = bytes.length >= 262 && new TextDecoder().decode(bytes.subarray(257, 262)) === 'ustar';
  if (isTar) {
    throw new Error(`${sourceName}: this is a very old tar-format torch.save file, which pastiche can't read. ${OLD_FORMAT_FIX}`);
  }
  const isSafetensors = bytes.length >= 9 && bytes[8] === 0x7b; // 8-byte header length, then '{'
  const hint = isSafetensors ? ' It looks like a .safetensors file; load it with the safetensors reader.' : '';
  throw new Error(
    `${sourceName}: not a PyTorch checkpoint: it doesn't start with a zip signature ` +
      `(${bytes.length === 0 ? 'the file is empty' : 'wrong file, or cut short at the start'}).${hint}`,
  );
}

/** `torch.save` puts the pickle at `<prefix>/data.pkl`, the prefix being the archive's name. */
function findDataPickle(zip: ZipArchive, sourceName: string): string {
  const candidates = [...zip.entries.keys()].filter((name) => /^([^/]+\/)?data\.pkl$/.test(name));
  if (candidates.length === 1) return candidates[0]!;
  if (candidates.length === 0) {
    throw new Error(`${sourceName}: the zip has no '<name>/data.pkl', so it isn't a torch.save checkpoint`);
  }
  throw new Error(`${sourceName}: the zip holds several checkpoints (${candidates.join(', ')}); save one state_dict per file`);
}

async function readByteOrder(zip: ZipArchive, prefix: string, sourceName: string): Promise<boolean> {
  const name = `${prefix}byteorder`;
  if (!zip.has(name)) return true; // Written only since PyTorch 1.12; earlier files are little-endian.
  const order = new TextDecoder().decode(await zip.read(name)).trim();
  if (order !== 'little' && order !== 'big') {
    throw new Error(`${sourceName}: '${name}' says '${order}', expected 'little' or 'big'`);
  }
  return order === 'little';
}


async function readStorageBytes(zip: ZipArchive, prefix: string, storage: StorageRef, sourceName: string): Promise<Uint8Array> {
  const name = `${prefix}data/${storage.key}`;
  if (!zip.has(name)) {
    throw new Error(`${sourceName}: the pickle refers to storage '${storage.key}' but the zip has no '${name}'; the file is incomplete`);
  }
  const bytes = await zip.read(name);
  const needed = storage.numel * storage.dtype.bytesPerElement;
  if (bytes.length < needed) {
    throw new Error(
      `${sourceName}: '${name}' holds ${bytes.length} bytes but ${storage.numel} ${storage.dtype.name} values need ${needed}; the file is corrupt`,
    );
  }
  return bytes;
}

