/**
 * Regression tests: every input the fuzzer ever found a bug with, kept small under
 * test/fuzz/corpus/<target>/, must now end in the expected way and satisfy the fuzz property.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkInput } from './harness.ts';
import { ALL_TARGETS } from './targets.ts';

const CORPUS = new URL('./corpus/', import.meta.url).pathname;

/** What each saved input must produce: a typed error containing this text (every one is a damaged file). */
const EXPECTED: Record<string, string> = {
  // Its first entry fails earlier (an offset far past the end); checkInput reads every entry, the bomb included.
  'zip/deflate-declares-2gib.bin': 'truncated or corrupt zip',
  'pth/deflate-storage-declares-3gib.bin': 'can inflate to at most',
  // Built by hand from the fuzzer's report (tensorViewPickle found the class of view).
  'pickle/stride0-view-declares-4g-elements.bin': 'overlapping strides',
  // Decoding took 16 s per 100 KB (quadratic); a state_dict has no such integer, so it is then refused.
  'pickle/long4-64kib-quadratic-decode.bin': 'not a state_dict',
  // Names copied from the file made messages of 8,000 and 5,000 characters; now clipped.
  'pickle/long-global-name-in-message.bin': 'characters left out',
  'safetensors/long-name-and-shape-in-message.bin': 'characters left out',
  // Found while writing the vgg19 target: JSON reads 1e400 as Infinity, which became non-finite weights.
  'vgg19-uint8/scale-1e400-is-infinity.json.bin': 'non-finite quantization scale',
  'image/interlaced-png-declares-9870x9870.bin': 'cannot inflate to that',
  'image/jpeg-declares-34887x1694-in-835-bytes.bin': 'far too few for that many pixels',
  // Found by the long run after the first fix allowed 1024 pixels per byte, twice the format's bound.
  'image/jpeg-declares-6275x6275-in-45110-bytes.bin': 'far too few for that many pixels',
};

describe('fuzz corpus: inputs that once found a bug', () => {
  const files = ALL_TARGETS.flatMap((target) => {
    let names: string[] = [];
    try {
      names = readdirSync(join(CORPUS, target.name));
    } catch {
      return [];
    }
    return names.map((name) => ({ target, key: `${target.name}/${name}` }));
  });

  it('lists an expectation for every saved input, and every expectation has its input', () => {
    expect(files.map((f) => f.key).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const { target, key } of files) {
    it(`${key}: ${EXPECTED[key]}`, async () => {
      const bytes = new Uint8Array(readFileSync(join(CORPUS, key)));
      expect(await checkInput(target, bytes)).toBe('rejected');
      await expect(Promise.resolve().then(() => target.parse(bytes, 'corpus-input'))).rejects.toThrow(EXPECTED[key]);
    });
  }
});
