// Pretrained weights in the browser. The dev server (vite.config.ts) serves the weights cache (what
// `npx pastiche weights` fills) over weights/bundled/ at /weights/, and lists them at
// /weights/index.json. Methods use these helpers to check what is installed and to download with
// progress.

import { WeightsNotFoundError, type WeightSource } from '../index.browser.ts';
import { parseSafetensors, type SafetensorsContents } from '../nets/weights/formats/safetensors.ts';
import { DEFAULT_RAW_FILES } from '../nets/weights/fetch-weight-source.ts';
import type { ProgressFn } from './methods.ts';

/** The weights folder's URL (read when first needed, so the module loads outside a page too). */
const weightsBase = (): string => new URL('weights/', new URL(import.meta.env.BASE_URL, location.href)).href;

export interface WeightsFile {
  path: string;
  bytes: number;
}

let indexPromise: Promise<Map<string, WeightsFile>> | null = null;

/** Files the server has under /weights/ (empty when it serves none, e.g. a static build). */
export function weightsIndex(): Promise<Map<string, WeightsFile>> {
  indexPromise ??= fetch(new URL('index.json', weightsBase()))
    .then(async (res) => {
      if (!res.ok) return new Map<string, WeightsFile>();
      const body = (await res.json()) as { files?: WeightsFile[] };
      return new Map((body.files ?? []).map((f) => [f.path, f]));
    })
    .catch(() => new Map<string, WeightsFile>());
  return indexPromise;
}

/**
 * `true` if every path is served, otherwise the sentence to show on the method's tab.
 * Paths are relative to the cache folder, e.g. 'mosaic.safetensors' or 'magenta/style_predict_int8_256.tflite'.
 */
export async function weightsAvailable(paths: readonly string[]): Promise<true | string> {
  const index = await weightsIndex();
  const missing = paths.filter((p) => !index.has(p));
  if (!missing.length) return true;
  return `Weights not installed (${missing.slice(0, 2).join(', ')}${missing.length > 2 ? ', …' : ''}): run \`npx pastiche weights\`, then reload.`;
}

function formatMB(bytes: number): string {
  return `${(bytes / 1e6).toFixed(bytes < 1e7 ? 1 : 0)} MB`;
}

const downloads = new Map<string, Promise<Uint8Array>>();

/**
 * Downloads a file from the weights cache, reporting progress as stage 'weights'. Callers asking for
 * a file already on its way share that download; the bytes are not kept afterwards (methods keep the
 * nets they build, on the GPU, and the browser's HTTP cache revalidates files across reloads), so an
 * 80 MB VGG19 does not stay in page memory once uploaded.
 */
export function fetchWeights(path: string, onProgress?: ProgressFn, label = path): Promise<Uint8Array> {
  const pending = downloads.get(path);
  if (pending) return pending;
  const promise = download(path, onProgress, label);
  downloads.set(path, promise);
  const forget = () => downloads.delete(path);
  promise.then(forget, forget);
  return promise;
}

async function download(path: string, onProgress: ProgressFn | undefined, label: string): Promise<Uint8Array> {
  const url = new URL(path, weightsBase());
  const res = await fetch(url);
  if (!res.ok) {
    throw new Error(`Could not download weights ${path} (HTTP ${res.status}). Run \`npx pastiche weights\` and reload.`);
  }
  const total = Number(res.headers.get('Content-Length')) || (await weightsIndex()).get(path)?.bytes || 0;
  if (!res.body) return new Uint8Array(await res.arrayBuffer());
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let received = 0;
  let lastReport = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    received += value.length;
    const now = performance.now();
    if (onProgress && now - lastReport > 80) {
      lastReport = now;
      onProgress({
        stage: 'weights',
        message: `Downloading ${label} (${formatMB(received)}${total ? ` / ${formatMB(total)}` : ''})`,
        ...(total ? { fraction: Math.min(1, received / total) } : {}),
      });
    }
  }
  const bytes = new Uint8Array(received);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  onProgress?.({ stage: 'weights', message: `Downloaded ${label} (${formatMB(received)})`, fraction: 1 });
  return bytes;
}

/** Downloads and parses `<model>.safetensors` from the cache (what `npx pastiche weights` writes). */
export async function fetchSafetensors(model: string, onProgress?: ProgressFn): Promise<SafetensorsContents> {
  const bytes = await fetchWeights(`${model}.safetensors`, onProgress, model);
  return parseSafetensors(bytes, `${model}.safetensors`);
}

/**
 * The method definitions' WeightSource on the page: the same downloads (shared, with progress) as
 * above. A model the server does not have is a WeightsNotFoundError, so a method can say how to get it.
 */
export const pageWeights: WeightSource = {
  async tensors(name, onProgress) {
    const index = await weightsIndex();
    if (index.size > 0 && !index.has(`${name}.safetensors`)) throw new WeightsNotFoundError(name, `${name}.safetensors is not in the weights cache`);
    return (await fetchSafetensors(name, onProgress)).tensors;
  },
  bytes(name, onProgress) {
    const path = DEFAULT_RAW_FILES[name];
    if (!path) throw new WeightsNotFoundError(name, `no file is known for '${name}'`);
    return fetchWeights(path, onProgress, name);
  },
};
