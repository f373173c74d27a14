// Type declarations for the parts of upng-js that pastiche uses; the package ships no types.
// (jpeg-js ships its own index.d.ts, so it needs nothing here.)
//
// upng-js is a CommonJS module whose `module.exports` is the UPNG object, so only a default
// import works at run time; named imports are deliberately not declared.

declare module 'upng-js' {
  /** The decoded-but-not-yet-expanded PNG that `UPNG.decode` returns. */
  export interface UpngDecoded {
    width: number;
    height: number;
    /** Bits per sample: 1, 2, 4, 8 or 16. */
    depth: number;
    /** PNG colour type: 0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA. */
    ctype: number;
    /** Unfiltered pixel bytes; undefined when the file ended before IEND. */
    data: Uint8Array | undefined;
    /** Ancillary chunks by name (PLTE, tRNS, gAMA, ...), in upng's own parsed shapes. */
    tabs: Record<string, unknown>;
    /** APNG frames; empty for a still image. */
    frames: unknown[];
  }

  /** Filtered, zlib-compressed pixel data for each frame, and the PNG layout upng chose. */
  export interface UpngCompressed {
    ctype: number;
    depth: number;
    frames: Array<{ cimg: Uint8Array }>;
  }

  interface UpngEncode {
    (
      rgbaFrames: ArrayBuffer[],
      width: number,
      height: number,
      colorCount: number,
      frameDelaysMs?: number[],
      forbidPalette?: boolean,
    ): ArrayBuffer;
    /**
     * The pixel half of `encode`: picks a layout, filters and deflates, but writes no chunks.
     * `colorCount` 0 means lossless; with `forbidPalette` an opaque image becomes 8-bit RGB.
     */
    compressPNG(
      rgbaFrames: ArrayBuffer[],
      width: number,
      height: number,
      colorCount: number,
      forbidPalette?: boolean,
    ): UpngCompressed;
  }

  interface UpngDecode {
    (buffer: ArrayBuffer | Uint8Array): UpngDecoded;
    /** zlib-inflates a whole stream (pako); a stream cut short gives what it holds, without an error. */
    _inflate(data: Uint8Array): Uint8Array | undefined;
  }

  interface Upng {
    /** Parses a PNG. Throws a string (not an Error) on a bad signature. */
    decode: UpngDecode;
    /** Expands any colour type / bit depth to 8-bit RGBA, one ArrayBuffer per frame. */
    toRGBA8(decoded: UpngDecoded): ArrayBuffer[];
    /**
     * Encodes RGBA frames. Beware: it writes into a buffer sized from the raw RGBA input and
     * silently truncates the file when the output is larger (small images stored as palettes).
     */
    encode: UpngEncode;
  }

  const UPNG: Upng;
  export default UPNG;
}
