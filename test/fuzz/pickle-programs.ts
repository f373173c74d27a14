/**
 * Structure-aware pickle inputs: random programs of real opcodes with hostile arguments (unknown
 * and dangerous globals, REDUCE on anything, huge declared lengths, memo slots out of range), and
 * state_dicts whose tensor views have random sizes, strides, offsets and storage sizes.
 */
import fc from 'fast-check';
import { stateDictPickle, type StorageType } from '../helpers/pth-builder.ts';

const u32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const u64 = (v: bigint) => Array.from({ length: 8 }, (_, i) => Number((v >> BigInt(8 * i)) & 0xffn));
const utf8 = (s: string) => [...new TextEncoder().encode(s)];

const hugeLength = fc.oneof(fc.nat({ max: 8 }), fc.constantFrom(0x7fffffff, 0xffffffff, 0x10000000));
const hugeLength64 = fc.oneof(fc.bigInt({ min: 0n, max: 8n }), fc.constantFrom(1n << 40n, (1n << 53n) - 1n, (1n << 64n) - 1n));
const globals = fc.constantFrom(
  ['collections', 'OrderedDict'],
  ['torch._utils', '_rebuild_tensor_v2'],
  ['torch._utils', '_rebuild_parameter'],
  ['torch._tensor', '_rebuild_from_type_v2'],
  ['torch', 'FloatStorage'],
  ['torch', 'Tensor'],
  ['os', 'system'],
  ['builtins', 'eval'],
  ['__builtin__', 'getattr'],
  ['torch', 'load'],
);
const text = fc.oneof(fc.constantFrom('storage', '0', '1', 'cpu', 'model', 'state_dict'), fc.string({ maxLength: 6 }));

/** Opcodes without arguments, as their byte values. */
const BARE = [0x28, 0x2e, 0x30, 0x31, 0x32, 0x4e, 0x51, 0x52, 0x5d, 0x61, 0x62, 0x64, 0x65, 0x6c, 0x73, 0x74, 0x75, 0x7d, 0x29, 0x81, 0x85, 0x86, 0x87, 0x88, 0x89, 0x93, 0x94];

const opcode: fc.Arbitrary<number[]> = fc.oneof(
  { arbitrary: fc.constantFrom(...BARE).map((op) => [op]), weight: 10 },
  fc.nat({ max: 6 }).map((v) => [0x80, v]), // PROTO
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }).map((v) => [0x4a, ...u32(v)]), // BININT
  fc.nat({ max: 255 }).map((v) => [0x4b, v]), // BININT1
  fc.nat({ max: 0xffff }).map((v) => [0x4d, v & 0xff, v >> 8]), // BININT2
  fc.uint8Array({ maxLength: 12 }).map((b) => [0x8a, b.length, ...b]), // LONG1
  hugeLength.map((n) => [0x8b, ...u32(n)]), // LONG4 with a declared length
  fc.double().map((v) => { const b = new Uint8Array(8); new DataView(b.buffer).setFloat64(0, v); return [0x47, ...b]; }),
  text.map((s) => [0x8c, utf8(s).length, ...utf8(s)]), // SHORT_BINUNICODE
  { arbitrary: text.map((s) => [0x58, ...u32(utf8(s).length), ...utf8(s)]), weight: 3 }, // BINUNICODE
  hugeLength.map((n) => [0x58, ...u32(n)]), // BINUNICODE claiming more than the file holds
  hugeLength64.map((n) => [0x8d, ...u64(n)]), // BINUNICODE8
  hugeLength.map((n) => [0x42, ...u32(n)]), // BINBYTES
  hugeLength64.map((n) => [0x8e, ...u64(n)]), // BINBYTES8
  fc.uint8Array({ maxLength: 8 }).map((b) => [0x43, b.length, ...b]), // SHORT_BINBYTES
  fc.nat({ max: 8 }).map((i) => [0x71, i]), // BINPUT
  fc.oneof(fc.nat({ max: 8 }), fc.constant(0xffffffff)).map((i) => [0x72, ...u32(i)]), // LONG_BINPUT
  fc.nat({ max: 255 }).map((i) => [0x68, i]), // BINGET
  fc.oneof(fc.nat({ max: 8 }), fc.constant(0xffffffff)).map((i) => [0x6a, ...u32(i)]), // LONG_BINGET
  { arbitrary: globals.map(([m, n]) => [0x63, ...utf8(`${m}\n${n}\n`)]), weight: 4 }, // GLOBAL
  fc.integer({ min: 1000, max: 20000 }).map((n) => [0x63, ...utf8(`${'m'.repeat(n)}\nx\n`)]), // a very long GLOBAL name
  hugeLength64.map((n) => [0x95, ...u64(n)]), // FRAME
  fc.nat({ max: 255 }).map((b) => [b]), // any byte
);

export function pickleProgram(): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.array(opcode, { maxLength: 40 }).map((ops) => Uint8Array.from([0x80, 2, ...ops.flat(), 0x2e])),
    tensorViewPickle(),
  );
}

const dimension = fc.oneof(fc.nat({ max: 4 }), fc.constantFrom(255, 65535, 2 ** 20, 2 ** 31 - 1));

/** A state_dict with one tensor whose view (size, stride, offset) and storage size are random. */
function tensorViewPickle(): fc.Arbitrary<Uint8Array> {
  return fc
    .record({
      // Size and stride of the same rank, so the view itself is what gets tested.
      view: fc.array(fc.tuple(dimension, fc.oneof(fc.constant(0), dimension)), { maxLength: 4 }),
      offset: dimension,
      storageNumel: dimension,
      storageType: fc.constantFrom<StorageType>('FloatStorage', 'HalfStorage', 'DoubleStorage', 'LongStorage'),
      storageKey: fc.constantFrom('0', '1', '2'),
    })
    .map(({ view, ...t }) => stateDictPickle([['w', { ...t, size: view.map(([n]) => n), stride: view.map(([, s]) => s) }]]));
}
