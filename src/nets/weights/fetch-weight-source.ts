/**
 * The method contract's WeightSource over HTTP (the browser, or any runtime with `fetch`): converted
 * weights are `<base><name>.safetensors` (the layout of the weights cache, which the dev server serves),
 * raw model files are fetched by their manifest path.
 */
import { WeightsNotFoundError, type Progress, type WeightSource } from '../methods/contract.ts';
import { parseSafetensors } from './formats/safetensors.ts';

export interface FetchWeightSourceOptions {
  /** Where the files are, ending in '/'. */
  baseUrl: string | URL;
  /** Raw files by model name, relative to baseUrl (e.g. TFLite graphs); defaults cover the Magenta pair. */
  files?: Readonly<Record<string, string>>;
  fetch?: (url: string) => Promise<Response>;
}

export const DEFAULT_RAW_FILES: Readonly<Record<string, string>> = {
  'magenta-predict': 'magenta/style_predict_int8_256.tflite',
  'magenta-transfer': 'magenta/style_transfer_int8_384.tflite',
};

async function download(url: string, name: string, get: (url: string) => Promise<Response>, onProgress?: (p: Progress) => void): Promise<Uint8Array> {
  const res = await get(url);
  if (res.status === 404) throw new WeightsNotFoundError(name, `${url} not found (HTTP 404)`);
  if (!res.ok) throw new Error(`could not download ${url} (HTTP ${res.status})`);
  const total = Number(res.headers.get('Content-Length')) || 0;
  if (!res.body) return new Uint8Array(await res.arrayBuffer());
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    received += value.length;
    onProgress?.({ stage: 'weights', message: `downloading ${name}`, ...(total > 0 ? { fraction: received / total } : {}) });
  }
  const out = new Uint8Array(received);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

export function fetchWeightSource(options: FetchWeightSourceOptions): WeightSource {
  const base = new URL(String(options.baseUrl));
  const files = { ...DEFAULT_RAW_FILES, ...options.files };
  const get = options.fetch ?? ((url: string) => fetch(url));
  return {
    async tensors(name, onProgress) {
      const url = new URL(`${name}.safetensors`, base).href;
      return parseSafetensors(await download(url, name, get, onProgress), `${name}.safetensors`).tensors;
    },
    bytes(name, onProgress) {
      const path = files[name];
      if (!path) throw new WeightsNotFoundError(name, `no file is known for '${name}'`);
      return download(new URL(path, base).href, name, get, onProgress);
    },
  };
}
