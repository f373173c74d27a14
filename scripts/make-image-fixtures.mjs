#!/usr/bin/env node
/**
 * Writes the small image fixtures under test/fixtures/images/ that the bad-input matrix decodes.
 * Needs ImageMagick 6 (`convert`); the files are committed so tests and CI never need it.
 * Every image shows the same 16×12 picture: four 8×6 quadrants, red (top left), green (top right),
 * blue (bottom left), yellow (bottom right), so pixel checks and orientation checks read quadrant centres.
 * Run: node scripts/make-image-fixtures.mjs
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const out = join(import.meta.dirname, '..', 'test', 'fixtures', 'images');
mkdirSync(out, { recursive: true });
const convert = (...args) => execFileSync('convert', args);
const path = (name) => join(out, name);
const quadrants = ['-size', '8x6', 'xc:red', '-size', '8x6', 'xc:lime', '+append', '(', '-size', '8x6', 'xc:blue', '-size', '8x6', 'xc:yellow', '+append', ')', '-append', '+repage'];
// ImageMagick otherwise adds date chunks, which would change the files on every run.
const strip = ['-strip', '-define', 'png:exclude-chunks=date,time'];

convert(...quadrants, ...strip, 'PNG24:' + path('reference.png'));
convert(path('reference.png'), ...strip, '-colorspace', 'Gray', '-define', 'png:color-type=0', '-define', 'png:bit-depth=8', path('grey.png'));
convert(path('reference.png'), ...strip, '-colorspace', 'Gray', '-alpha', 'set', '-channel', 'A', '-evaluate', 'set', '50%', '+channel', '-define', 'png:color-type=4', path('grey-alpha.png'));
convert(path('reference.png'), ...strip, '-alpha', 'set', '-channel', 'A', '-evaluate', 'set', '50%', '+channel', 'PNG32:' + path('alpha.png'));
convert(path('reference.png'), ...strip, '-depth', '16', 'PNG48:' + path('rgb16.png'));
convert(path('reference.png'), ...strip, '-colors', '4', 'PNG8:' + path('palette.png'));
convert(path('reference.png'), ...strip, '-interlace', 'PNG', 'PNG24:' + path('interlaced.png'));
convert(path('reference.png'), ...strip, '-quality', '95', path('baseline.jpg'));
convert(path('reference.png'), ...strip, '-quality', '95', '-interlace', 'Plane', path('progressive.jpg'));
convert(path('reference.png'), ...strip, '-quality', '95', '-colorspace', 'Gray', path('grey.jpg'));
convert(path('reference.png'), ...strip, '-quality', '95', '-colorspace', 'CMYK', path('cmyk.jpg'));

// EXIF orientations: the stored pixels are the picture transformed so that a viewer honouring the
// orientation tag shows the reference again. Tags 2..8 per the EXIF specification.
const storedFor = { 1: [], 2: ['-flop'], 3: ['-rotate', '180'], 4: ['-flip'], 5: ['-transpose'], 6: ['-rotate', '-90'], 7: ['-transverse'], 8: ['-rotate', '90'] };
for (const [tag, transform] of Object.entries(storedFor)) {
  const file = path(`orientation-${tag}.jpg`);
  convert(path('reference.png'), ...strip, ...transform, '-quality', '95', file);
  // Odd tags big-endian TIFF data, even tags little-endian: the reader must handle both.
  writeFileSync(file, withExifOrientation(readFileSync(file), Number(tag), Number(tag) % 2 === 1));
  // Independent check: ImageMagick's own -auto-orient must give the reference back.
  const upright = execFileSync('convert', [file, '-auto-orient', '-format', '%wx%h %[pixel:p{3,2}] %[pixel:p{12,9}]', 'info:']).toString();
  if (!/^16x12 srgb\(2[45]\d,[0-9]{1,2},[0-9]{1,2}\) srgb\(2[45]\d,2[45]\d,[0-9]{1,2}\)/.test(upright)) throw new Error(`orientation ${tag}: ImageMagick reads ${upright}`);
}

/** The JPEG with an APP1 Exif segment holding only IFD0's Orientation tag, inserted after SOI. */
function withExifOrientation(jpeg, orientation, bigEndian) {
  const tiff = Buffer.alloc(8 + 2 + 12 + 4);
  if (bigEndian) {
    tiff.write('MM', 0, 'latin1');
    tiff.writeUInt16BE(42, 2);
    tiff.writeUInt32BE(8, 4);
    tiff.writeUInt16BE(1, 8);
    tiff.writeUInt16BE(0x0112, 10);
    tiff.writeUInt16BE(3, 12);
    tiff.writeUInt32BE(1, 14);
    tiff.writeUInt16BE(orientation, 18);
  } else {
    tiff.write('II', 0, 'latin1');
    tiff.writeUInt16LE(42, 2);
    tiff.writeUInt32LE(8, 4);
    tiff.writeUInt16LE(1, 8);
    tiff.writeUInt16LE(0x0112, 10);
    tiff.writeUInt16LE(3, 12);
    tiff.writeUInt32LE(1, 14);
    tiff.writeUInt16LE(orientation, 18);
  }
  const payload = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
  const header = Buffer.from([0xff, 0xe1, 0, 0]);
  header.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([jpeg.subarray(0, 2), header, payload, jpeg.subarray(2)]);
}

// Headers that declare 20000×20000 pixels over almost no data: refused from the header, never decoded.
const huge = Buffer.from(readFileSync(path('reference.png')));
huge.writeUInt32BE(20000, 16);
huge.writeUInt32BE(20000, 20);
huge.writeUInt32BE(crc32(huge.subarray(12, 29)), 29);
writeFileSync(path('huge-declared.png'), huge);
const hugeJpeg = Buffer.from(readFileSync(path('baseline.jpg')));
const sof = hugeJpeg.indexOf(Buffer.from([0xff, 0xc0]));
hugeJpeg.writeUInt16BE(20000, sof + 5);
hugeJpeg.writeUInt16BE(20000, sof + 7);
writeFileSync(path('huge-declared.jpg'), hugeJpeg);

function crc32(bytes) {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
