/**
 * EXIF orientation: phones store photos as the sensor saw them and record in the EXIF Orientation tag how
 * to turn them upright. Browsers honour the tag when they draw an image, so the CLI must too, or a
 * portrait photo comes out lying on its side. Pure and browser-safe.
 */

/** An RGB image, HWC floats (the shape of image.ts's RgbImage, named here so the two modules do not import each other). */
interface Pixels {
  width: number;
  height: number;
  data: Float32Array;
}

/** EXIF Orientation values 1..8; 1 is upright, 5..8 swap width and height. */
export type Orientation = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8;

const ORIENTATION_TAG = 0x0112;

/**
 * The Orientation tag of a JPEG's first APP1 Exif segment, or 1 when there is none or it cannot be read:
 * a damaged EXIF block never stops an image from decoding (browsers ignore it the same way).
 */
export function jpegOrientation(bytes: Uint8Array): Orientation {
  let offset = 2;
  while (offset + 4 <= bytes.length && bytes[offset] === 0xff) {
    const marker = bytes[offset + 1]!;
    if (marker === 0xff) {
      offset++;
      continue;
    }
    // Start of scan or of a frame: metadata segments come before these.
    if (marker === 0xda || (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc)) return 1;
    const length = (bytes[offset + 2]! << 8) | bytes[offset + 3]!;
    if (length < 2) return 1;
    if (marker === 0xe1 && isExifHeader(bytes, offset + 4)) {
      return readTiffOrientation(bytes.subarray(offset + 10, Math.min(bytes.length, offset + 2 + length)));
    }
    offset += 2 + length;
  }
  return 1;
}

function isExifHeader(bytes: Uint8Array, at: number): boolean {
  return bytes[at] === 0x45 && bytes[at + 1] === 0x78 && bytes[at + 2] === 0x69 && bytes[at + 3] === 0x66 && bytes[at + 4] === 0 && bytes[at + 5] === 0;
}

/** Reads IFD0's Orientation entry from TIFF-structured EXIF data (either byte order). */
function readTiffOrientation(tiff: Uint8Array): Orientation {
  if (tiff.length < 8) return 1;
  const view = new DataView(tiff.buffer, tiff.byteOffset, tiff.byteLength);
  const order = view.getUint16(0);
  if (order !== 0x4949 && order !== 0x4d4d) return 1;
  const little = order === 0x4949;
  if (view.getUint16(2, little) !== 42) return 1;
  const ifd = view.getUint32(4, little);
  if (ifd + 2 > tiff.length) return 1;
  const entries = view.getUint16(ifd, little);
  for (let i = 0; i < entries; i++) {
    const entry = ifd + 2 + i * 12;
    if (entry + 12 > tiff.length) return 1;
    if (view.getUint16(entry, little) !== ORIENTATION_TAG) continue;
    // A SHORT value sits left-justified in the 4-byte value field.
    const value = view.getUint16(entry + 2, little) === 3 ? view.getUint16(entry + 8, little) : 0;
    return value >= 1 && value <= 8 ? (value as Orientation) : 1;
  }
  return 1;
}

/** Whether an orientation turns the image by a quarter, so the upright image's width is the stored height. */
export function swapsSides(orientation: Orientation): boolean {
  return orientation >= 5;
}

/** The image turned upright: the stored pixels transformed as the Orientation tag says. */
export function applyOrientation(image: Pixels, orientation: Orientation): Pixels {
  if (orientation === 1) return image;
  const { width, height, data } = image;
  const swap = swapsSides(orientation);
  const outWidth = swap ? height : width;
  const outHeight = swap ? width : height;
  const out = new Float32Array(data.length);
  for (let y = 0; y < outHeight; y++) {
    for (let x = 0; x < outWidth; x++) {
      const [sx, sy] = sourcePixel(orientation, x, y, width, height);
      const from = (sy * width + sx) * 3;
      const to = (y * outWidth + x) * 3;
      out[to] = data[from]!;
      out[to + 1] = data[from + 1]!;
      out[to + 2] = data[from + 2]!;
    }
  }
  return { width: outWidth, height: outHeight, data: out };
}

/** Which stored pixel lands at upright pixel (x, y), for a stored image of width × height. */
function sourcePixel(orientation: Orientation, x: number, y: number, width: number, height: number): [number, number] {
  switch (orientation) {
    case 2: return [width - 1 - x, y]; // mirrored left-right
    case 3: return [width - 1 - x, height - 1 - y]; // turned 180°
    case 4: return [x, height - 1 - y]; // mirrored top-bottom
    case 5: return [y, x]; // transposed
    case 6: return [y, height - 1 - x]; // stored turned 90° anticlockwise: show it turned clockwise
    case 7: return [width - 1 - y, height - 1 - x]; // transversed
    case 8: return [width - 1 - y, x]; // stored turned 90° clockwise
    default: return [x, y];
  }
}
