// Text for durations, frame rates and image sizes, as the page shows them.

import type { LoadedImage } from './images.ts';

export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function formatFps(fps: number): string {
  return fps >= 10 ? fps.toFixed(0) : fps >= 1 ? fps.toFixed(1) : fps.toFixed(2);
}

export function imageMeta(loaded: LoadedImage): string {
  const scaled = loaded.originalWidth !== loaded.image.width;
  return `${loaded.image.width}×${loaded.image.height}${scaled ? ` (from ${loaded.originalWidth}×${loaded.originalHeight})` : ''}`;
}
