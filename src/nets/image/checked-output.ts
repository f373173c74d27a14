/**
 * The last step of every stylising net, on the CPU after the one readback: a NaN or infinite output
 * value means damaged weights, and is reported as such. It must come before any clamp, because a GPU
 * clamp turns NaN into 0 and a damaged model would silently write a black image.
 */
export class DamagedModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DamagedModelError';
  }
}

/**
 * Checks an RGB float image (`width` pixels a row) for non-finite values, then clamps it to 0..255 in
 * place. `model` names the model (its file) in the error.
 */
export function checkedOutput(data: Float32Array, width: number, model: string): Float32Array {
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (!Number.isFinite(v)) {
      const pixel = Math.floor(i / 3);
      throw new DamagedModelError(
        `${model} produced ${v} at pixel (${pixel % width}, ${Math.floor(pixel / width)}): its weights hold NaN or infinite values, so the model file is damaged; download or export it again`,
      );
    }
    data[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return data;
}
