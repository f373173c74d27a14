// Getting pictures into RgbImages (files, URLs, webcam frames) and back onto canvases.

import { fromRgba8, toRgba8, type RgbImage } from '../io/image.ts';

/** Images are scaled down on arrival so a 24-megapixel photo does not stall the page. */
export const MAX_INPUT_SIDE = 1024;

export interface LoadedImage {
  image: RgbImage;
  name: string;
  /** Size before any scaling on arrival. */
  originalWidth: number;
  originalHeight: number;
}

function fitSize(width: number, height: number, maxSide: number): { width: number; height: number } {
  const scale = Math.min(1, maxSide / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

function makeCanvas(width: number, height: number): HTMLCanvasElement {
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  return canvas;
}

/** Draws any canvas image source into an RgbImage, scaled to fit `maxSide`. */
export function rasterize(source: CanvasImageSource, width: number, height: number, maxSide = MAX_INPUT_SIDE): RgbImage {
  const size = fitSize(width, height, maxSide);
  const canvas = makeCanvas(size.width, size.height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new Error('This browser could not create a 2D canvas.');
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  // Transparent areas read as white paper, as in the engine's own decoder.
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, size.width, size.height);
  ctx.drawImage(source, 0, 0, size.width, size.height);
  const pixels = ctx.getImageData(0, 0, size.width, size.height);
  return fromRgba8(size.width, size.height, pixels.data);
}

/** Decodes an image file or blob (anything the browser can display: PNG, JPEG, WebP, GIF, AVIF…). */
export async function loadBlob(blob: Blob, name: string): Promise<LoadedImage> {
  if (blob.type && !blob.type.startsWith('image/')) {
    throw new Error(`${name} is not an image (${blob.type}). Choose a PNG, JPEG or WebP picture.`);
  }
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(blob, { imageOrientation: 'from-image' });
  } catch {
    throw new Error(`${name} could not be decoded as an image. Is the file complete? Try saving it as PNG or JPEG.`);
  }
  try {
    return {
      image: rasterize(bitmap, bitmap.width, bitmap.height),
      name,
      originalWidth: bitmap.width,
      originalHeight: bitmap.height,
    };
  } finally {
    bitmap.close();
  }
}

export async function loadUrl(url: string, name = nameFromUrl(url)): Promise<LoadedImage> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (err) {
    throw new Error(`Could not fetch ${name}: ${(err as Error).message}`);
  }
  if (!response.ok) throw new Error(`Could not fetch ${name}: HTTP ${response.status}`);
  return loadBlob(await response.blob(), name);
}

/** The current frame of a playing <video> (the webcam). */
export function captureVideoFrame(video: HTMLVideoElement, name = 'Webcam frame'): LoadedImage {
  const width = video.videoWidth;
  const height = video.videoHeight;
  if (!width || !height) throw new Error('The camera has not delivered a frame yet.');
  return { image: rasterize(video, width, height), name, originalWidth: width, originalHeight: height };
}

/**
 * Grabs webcam frames straight at the working size, into one reused canvas: live mode's only
 * CPU-side copy per frame (video → small canvas → RGB floats for the upload).
 */
export class FrameGrabber {
  private readonly canvas = makeCanvas(1, 1);
  private readonly ctx: CanvasRenderingContext2D;

  constructor() {
    const ctx = this.canvas.getContext('2d', { willReadFrequently: true });
    if (!ctx) throw new Error('This browser could not create a 2D canvas.');
    this.ctx = ctx;
  }

  /** The video's current frame with its longer side at most `longSide`. */
  grab(video: HTMLVideoElement, longSide: number): RgbImage {
    const width = video.videoWidth;
    const height = video.videoHeight;
    if (!width || !height) throw new Error('The camera has not delivered a frame yet.');
    const size = fitSize(width, height, longSide);
    if (this.canvas.width !== size.width || this.canvas.height !== size.height) {
      this.canvas.width = size.width;
      this.canvas.height = size.height;
    }
    this.ctx.imageSmoothingEnabled = true;
    this.ctx.imageSmoothingQuality = 'high';
    this.ctx.drawImage(video, 0, 0, size.width, size.height);
    return fromRgba8(size.width, size.height, this.ctx.getImageData(0, 0, size.width, size.height).data);
  }
}

export function nameFromUrl(url: string): string {
  const last = decodeURIComponent(new URL(url, location.href).pathname.split('/').pop() ?? 'image');
  return last || 'image';
}

/** Paints an RgbImage onto a canvas, resizing the canvas to the image. */
export function drawImage(canvas: HTMLCanvasElement, image: RgbImage): void {
  if (canvas.width !== image.width) canvas.width = image.width;
  if (canvas.height !== image.height) canvas.height = image.height;
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  ctx.putImageData(new ImageData(toRgba8(image), image.width, image.height), 0, 0);
}

/** A small data-free thumbnail canvas for lists. */
export function thumbnailCanvas(image: RgbImage, maxSide = 160): HTMLCanvasElement {
  const full = makeCanvas(image.width, image.height);
  drawImage(full, image);
  const size = fitSize(image.width, image.height, maxSide);
  const thumb = makeCanvas(size.width, size.height);
  const ctx = thumb.getContext('2d');
  if (ctx) {
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(full, 0, 0, size.width, size.height);
  }
  return thumb;
}

export function canvasToPngBlob(canvas: HTMLCanvasElement): Promise<Blob> {
  return new Promise((resolve, reject) => {
    canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error('Could not encode the PNG.'))), 'image/png');
  });
}

/** First image in a DataTransfer (drop or paste): a file, or a dragged <img>'s URL. */
export async function imagesFromDataTransfer(data: DataTransfer | null): Promise<LoadedImage[]> {
  if (!data) return [];
  const files = [...data.files].filter((f) => f.type.startsWith('image/') || f.type === '');
  if (files.length) return Promise.all(files.map((f) => loadBlob(f, f.name || 'Pasted image')));
  for (const item of [...data.items]) {
    if (item.kind === 'file' && item.type.startsWith('image/')) {
      const file = item.getAsFile();
      if (file) return [await loadBlob(file, file.name || 'Pasted image')];
    }
  }
  const uri = data.getData('text/uri-list').split('\n').find((l) => l && !l.startsWith('#'));
  const url = uri ?? extractImgSrc(data.getData('text/html'));
  if (url) {
    const name = data.getData('application/x-pastiche-name') || nameFromUrl(url);
    return [await loadUrl(url, name)];
  }
  return [];
}

function extractImgSrc(html: string): string | undefined {
  if (!html) return undefined;
  const doc = new DOMParser().parseFromString(html, 'text/html');
  return doc.querySelector('img')?.getAttribute('src') ?? undefined;
}
