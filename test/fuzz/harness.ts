/**
 * The fuzzing property shared by every parser: an input ends either in a result or in a typed,
 * user-readable error, and parsing it never grows ArrayBuffer memory past the target's bound.
 *
 * "Typed, user-readable" means: an `Error` that is not one of JavaScript's own failure types
 * (TypeError, RangeError, …, which signal an unchecked assumption inside the parser), whose
 * message names the file it was given and stays short enough to read. Memory is measured as the
 * growth of `process.memoryUsage().arrayBuffers` across one parse: backing stores are freed only
 * by a later garbage collection, so a buffer allocated and dropped inside the parse still counts.
 */
import fc from 'fast-check';

export interface FuzzTarget {
  name: string;
  /** Real or hand-built inputs that parse (or fail) the way the format intends; mutated by the fuzzer. */
  seeds(): Uint8Array[];
  /** Runs the parser on `bytes`; may call `expectTypedError` itself for follow-up calls. */
  parse(bytes: Uint8Array, sourceName: string): unknown;
  /** Most ArrayBuffer bytes one parse of an `inputBytes`-byte input may leave allocated. */
  memoryBound(inputBytes: number, input: Uint8Array): number;
  /** False when no small input can parse completely (VGG19 needs all 20 MB of its real files). */
  canSucceed?: boolean;
  /** Structure-aware generators, used alongside byte mutations of the seeds. */
  generators?: () => fc.Arbitrary<Uint8Array>[];
}

/** Something the parser must never do; carries the input so it can be saved to the corpus. */
export class FuzzFinding extends Error {
  constructor(
    readonly target: string,
    readonly input: Uint8Array,
    problem: string,
  ) {
    super(`${target}: ${problem}`);
    this.name = 'FuzzFinding';
  }
}

export const MAX_MESSAGE_LENGTH = 4000;
const MIB = 1024 * 1024;

/** Bounds used by the targets, stated once. */
export const BOUNDS = {
  /** Weight formats read what the file holds: a few copies of it, widened to float32. */
  weights: (n: number) => 64 * n + 16 * MIB,
  /** DEFLATE expands at most ~1032:1, so an archive may back that much output (plus copies). */
  deflate: (n: number) => 2100 * n + 16 * MIB,
  /**
   * Images: 48 bytes per pixel the data can back (the decoders' buffers, RGBA and float RGB), plus a
   * flat allowance. `backedPixels` is the declared size capped by what the compressed data can hold.
   */
  image: (n: number, backedPixels: number) => 2100 * n + 48 * backedPixels + 64 * MIB,
};

const JS_INTERNAL_ERRORS = [TypeError, RangeError, ReferenceError, SyntaxError, EvalError, URIError];

/** Throws a FuzzFinding unless `err` is a typed, user-readable error about `sourceName`. */
export function expectTypedError(err: unknown, sourceName: string, target: string, input: Uint8Array): void {
  if (!(err instanceof Error)) throw new FuzzFinding(target, input, `threw a non-Error value: ${String(err)}`);
  if (err instanceof FuzzFinding) throw err;
  if (JS_INTERNAL_ERRORS.some((type) => err instanceof type)) {
    throw new FuzzFinding(target, input, `uncaught ${err.name}: ${err.message}\n${err.stack ?? ''}`);
  }
  if (!err.message.includes(sourceName)) {
    throw new FuzzFinding(target, input, `error does not name the file '${sourceName}': ${err.message}`);
  }
  if (err.message.length > MAX_MESSAGE_LENGTH) {
    throw new FuzzFinding(target, input, `error message is ${err.message.length} characters long: ${err.message.slice(0, 200)}…`);
  }
}

export type Outcome = 'ok' | 'rejected';

/** Runs one input through the target and checks the property; resolves to how it ended. */
export async function checkInput(target: FuzzTarget, input: Uint8Array): Promise<Outcome> {
  const sourceName = `fuzz-input.${target.name}`;
  const before = process.memoryUsage().arrayBuffers;
  let outcome: Outcome = 'ok';
  try {
    await target.parse(input, sourceName);
  } catch (err) {
    expectTypedError(err, sourceName, target.name, input);
    outcome = 'rejected';
  }
  const grown = process.memoryUsage().arrayBuffers - before;
  const bound = target.memoryBound(input.length, input);
  if (grown > bound) {
    throw new FuzzFinding(target.name, input, `a ${input.length}-byte input grew ArrayBuffer memory by ${grown} bytes (bound ${bound})`);
  }
  return outcome;
}

// ---- byte mutations ----------------------------------------------------------------------------

type Where = { region: 'head' | 'tail' | 'any'; fraction: number };
type Mutation =
  | { op: 'flip'; at: Where; bit: number }
  | { op: 'byte'; at: Where; value: number }
  | { op: 'u32'; at: Where; value: number; littleEndian: boolean }
  | { op: 'u64'; at: Where; value: bigint }
  | { op: 'truncate'; at: Where }
  | { op: 'insert'; at: Where; bytes: Uint8Array }
  | { op: 'delete'; at: Where; length: number }
  | { op: 'copy'; from: Where; at: Where; length: number };

/** Mutations cluster in the first and last 4 KiB, where headers and directories live. */
const where: fc.Arbitrary<Where> = fc.record({
  region: fc.constantFrom<Where['region']>('head', 'head', 'tail', 'any'),
  fraction: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
});

const interestingU32 = fc.oneof(
  fc.constantFrom(0, 1, 2, 4, 8, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff),
  fc.nat({ max: 0xffffffff }),
);
const interestingU64 = fc.oneof(
  fc.constantFrom(0n, 1n, 0xffffffffn, 0x100000000n, 1n << 40n, (1n << 53n) - 1n, 1n << 53n, (1n << 63n) - 1n, (1n << 64n) - 1n),
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
);

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: where, bit: fc.nat({ max: 7 }) }),
  fc.record({ op: fc.constant('byte' as const), at: where, value: fc.oneof(fc.constantFrom(0, 1, 0x7f, 0x80, 0xff), fc.nat({ max: 255 })) }),
  fc.record({ op: fc.constant('u32' as const), at: where, value: interestingU32, littleEndian: fc.boolean() }),
  fc.record({ op: fc.constant('u64' as const), at: where, value: interestingU64 }),
  fc.record({ op: fc.constant('truncate' as const), at: where }),
  fc.record({ op: fc.constant('insert' as const), at: where, bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ op: fc.constant('delete' as const), at: where, length: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ op: fc.constant('copy' as const), from: where, at: where, length: fc.integer({ min: 1, max: 256 }) }),
);

function position(at: Where, length: number): number {
  if (length === 0) return 0;
  const window = Math.min(length, 4096);
  if (at.region === 'head') return Math.floor(at.fraction * window);
  if (at.region === 'tail') return length - 1 - Math.floor(at.fraction * window);
  return Math.floor(at.fraction * length);
}

function applyMutation(bytes: Uint8Array, m: Mutation): Uint8Array {
  const at = position(m.at, bytes.length);
  switch (m.op) {
    case 'flip':
      if (bytes.length > 0) bytes[at] ^= 1 << m.bit;
      return bytes;
    case 'byte':
      if (bytes.length > 0) bytes[at] = m.value;
      return bytes;
    case 'u32':
      if (at + 4 <= bytes.length) new DataView(bytes.buffer, bytes.byteOffset).setUint32(at, m.value, m.littleEndian);
      return bytes;
    case 'u64':
      if (at + 8 <= bytes.length) new DataView(bytes.buffer, bytes.byteOffset).setBigUint64(at, m.value, true);
      return bytes;
    case 'truncate':
      return bytes.slice(0, at);
    case 'insert': {
      const out = new Uint8Array(bytes.length + m.bytes.length);
      out.set(bytes.subarray(0, at));
      out.set(m.bytes, at);
      out.set(bytes.subarray(at), at + m.bytes.length);
      return out;
    }
    case 'delete': {
      const end = Math.min(bytes.length, at + m.length);
      const out = new Uint8Array(bytes.length - (end - at));
      out.set(bytes.subarray(0, at));
      out.set(bytes.subarray(end), at);
      return out;
    }
    case 'copy': {
      const from = position(m.from, bytes.length);
      const length = Math.min(m.length, bytes.length - from, bytes.length - at);
      if (length > 0) bytes.set(bytes.slice(from, from + length), at);
      return bytes;
    }
  }
}

/** One to eight mutations of a copy of one seed; `repair` may fix checksums afterwards. */
export function mutatedSeed(seeds: Uint8Array[], repair?: (bytes: Uint8Array) => Uint8Array): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(fc.nat({ max: seeds.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 8 }), fc.boolean())
    .map(([index, mutations, doRepair]) => {
      let bytes: Uint8Array = seeds[index]!.slice();
      for (const m of mutations) bytes = applyMutation(bytes, m);
      return repair && doRepair ? repair(bytes) : bytes;
    });
}

/** Everything the fuzzer draws for a target: its seeds unchanged, mutated, and its own generators. */
export function inputsFor(target: FuzzTarget, seeds: Uint8Array[], repair?: (bytes: Uint8Array) => Uint8Array): fc.Arbitrary<Uint8Array> {
  const generated = target.generators?.() ?? [];
  return fc.oneof(
    { arbitrary: fc.constantFrom(...seeds).map((s) => s.slice()), weight: 1 },
    { arbitrary: mutatedSeed(seeds, repair), weight: 8 },
    ...generated.map((arbitrary) => ({ arbitrary, weight: 4 })),
  );
}

export interface FuzzStats {
  target: string;
  runs: number;
  ok: number;
  rejected: number;
  seconds: number;
  slowestMs: number;
  /** The slowest input, kept so a hang candidate can be saved and replayed. */
  slowestInput?: Uint8Array;
}

/** Runs `runs` inputs (or until `seconds` pass) through the property; throws the first finding. */
export async function fuzzTarget(
  target: FuzzTarget & { repair?: (bytes: Uint8Array) => Uint8Array },
  budget: { runs: number; seconds?: number; seed?: number },
): Promise<FuzzStats> {
  // Copies: a Buffer's slice() is a view, and mutating it in place would damage the seed.
  const seeds = target.seeds().map((seed) => new Uint8Array(seed));
  const stats: FuzzStats = { target: target.name, runs: 0, ok: 0, rejected: 0, seconds: 0, slowestMs: 0 };
  const started = performance.now();
  await fc.assert(
    fc.asyncProperty(inputsFor(target, seeds, target.repair), async (input) => {
      const t0 = performance.now();
      const outcome = await checkInput(target, input);
      const ms = performance.now() - t0;
      if (ms > stats.slowestMs) {
        stats.slowestMs = ms;
        stats.slowestInput = input;
      }
      stats.runs++;
      if (outcome === 'ok') stats.ok++;
      else stats.rejected++;
    }),
    {
      numRuns: budget.runs,
      seed: budget.seed,
      endOnFailure: true,
      ...(budget.seconds === undefined ? {} : { interruptAfterTimeLimit: budget.seconds * 1000, markInterruptAsFailure: false }),
    },
  );
  stats.seconds = (performance.now() - started) / 1000;
  return stats;
}
