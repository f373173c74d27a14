import type { Runtime } from '../../src/gpu/runtime.ts';
import type { RgbImage } from '../../src/io/image.ts';

/** Runs `fn` while recording the largest buffer the runtime's pool is asked for (in bytes). */
export async function largestBufferDuring<T>(rt: Runtime, fn: () => Promise<T>): Promise<{ result: T; largest: number }> {
  const pool = rt.pool;
  const original = pool.acquire;
  let largest = 0;
  pool.acquire = function (bytes: number, label: string) {
    largest = Math.max(largest, bytes);
    return original.call(pool, bytes, label);
  };
  try {
    return { result: await fn(), largest };
  } finally {
    pool.acquire = original;
  }
}

/** The largest mean colour change between neighbouring columns of an image (a seam shows as a jump). */
export function maxColumnJump(img: RgbImage): number {
  let worst = 0;
  for (let x = 1; x < img.width; x++) {
    let diff = 0;
    for (let y = 0; y < img.height; y++) for (let c = 0; c < 3; c++) diff += Math.abs(img.data[(y * img.width + x) * 3 + c]! - img.data[(y * img.width + x - 1) * 3 + c]!);
    worst = Math.max(worst, diff / img.height);
  }
  return worst;
}
