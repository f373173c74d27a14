/**
 * A safe interpreter for the subset of Python's pickle format (protocol 2 and later) that
 * `torch.save` writes for a state_dict.
 *
 * Real unpickling imports modules and calls arbitrary functions, which is how a malicious
 * checkpoint runs code. This interpreter calls nothing of Python's: a GLOBAL resolves only
 * through the caller's allow-list, and each allowed global is a small TypeScript function
 * supplied by the caller (or a bare tag that can't be called). Any other global is refused
 * with a `PickleGlobalRefusedError` naming it. With no allow-list, no global is allowed.
 */
import { clipText } from './message-text.ts';

/** The values a pickle can produce here. Lists and tuples are both arrays (tuples frozen). */
export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PickleValue[]
  | PickleDict
  | PickleGlobal
  | PickleHostObject;

/** A Python dict or OrderedDict; Map keeps insertion order, as both do. */
export type PickleDict = Map<PickleValue, PickleValue>;

/** An allowed `module.name` global, as the caller defined it. */
export class PickleGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
    /**
     * What REDUCE (`f(*args)`) and NEWOBJ (`cls(*args)`) produce. Without it the global is a
     * plain tag (e.g. a storage dtype) and calling it is an error.
     */
    readonly call?: (args: readonly PickleValue[]) => PickleValue,
  ) {}

  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

/** Base for objects that allowed globals build (e.g. a tensor reference); opaque to the VM. */
export abstract class PickleHostObject {
  abstract readonly hostType: string;
  /** BUILD's `__setstate__`; by default the state is dropped (it holds only metadata here). */
  setState(_state: PickleValue): void {}
}

export class PickleGlobalRefusedError extends Error {
  constructor(
    readonly qualifiedName: string,
    sourceName: string,
  ) {
    super(
      `${sourceName}: the pickle refers to '${clipText(qualifiedName)}', which is not on the allow-list of safe globals; ` +
        `nothing was executed`,
    );
    this.name = 'PickleGlobalRefusedError';
  }
}

export interface UnpickleOptions {
  /** Names the data in error messages. */
  sourceName?: string;
  /** Allowed globals, keyed by qualified name (`module.name`). */
  allowedGlobals?: ReadonlyMap<string, PickleGlobal>;
  /** Resolves BINPERSID ids (PyTorch's storage references). Without it they are an error. */
  persistentLoad?: (id: PickleValue) => PickleValue;
}

const Op = {
  MARK: 0x28, // (
  STOP: 0x2e, // .
  POP: 0x30, // 0
  POP_MARK: 0x31, // 1
  DUP: 0x32, // 2
  BINBYTES: 0x42, // B
  SHORT_BINBYTES: 0x43, // C
  BINFLOAT: 0x47, // G
  BININT: 0x4a, // J
  BININT1: 0x4b, // K
  BININT2: 0x4d, // M
  NONE: 0x4e, // N
  BINPERSID: 0x51, // Q
  REDUCE: 0x52, // R
  BINUNICODE: 0x58, // X
  EMPTY_LIST: 0x5d, // ]
  APPEND: 0x61, // a
  BUILD: 0x62, // b
  GLOBAL: 0x63, // c
  DICT: 0x64, // d
  APPENDS: 0x65, // e
  BINGET: 0x68, // h
  LONG_BINGET: 0x6a, // j
  LIST: 0x6c, // l
  BINPUT: 0x71, // q
  LONG_BINPUT: 0x72, // r
  SETITEM: 0x73, // s
  TUPLE: 0x74, // t
  SETITEMS: 0x75, // u
  EMPTY_DICT: 0x7d, // }
  EMPTY_TUPLE: 0x29, // )
  PROTO: 0x80,
  NEWOBJ: 0x81,
  TUPLE1: 0x85,
  TUPLE2: 0x86,
  TUPLE3: 0x87,
  NEWTRUE: 0x88,
  NEWFALSE: 0x89,
  LONG1: 0x8a,
  LONG4: 0x8b,
  SHORT_BINUNICODE: 0x8c,
  BINUNICODE8: 0x8d,
  BINBYTES8: 0x8e,
  STACK_GLOBAL: 0x93,
  MEMOIZE: 0x94,
  FRAME: 0x95,
} as const;

const HIGHEST_PROTOCOL = 5;

/** Runs the pickle in `bytes` and returns the value it builds. Throws on anything unsupported. */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions = {}): PickleValue {
  return new PickleMachine(bytes, options).run();
}

/**
 * Runs the pickle that starts at `bytes[0]` and says where its STOP ended, for streams that hold
 * several pickles in a row (the legacy torch.save layout).
 */
export function unpicklePrefix(bytes: Uint8Array, options: UnpickleOptions = {}): { value: PickleValue; bytesRead: number } {
  const machine = new PickleMachine(bytes, options);
  const value = machine.run();
  return { value, bytesRead: machine.bytesRead };
}

/** Reads the little-endian, fixed-width fields pickle opcodes carry, with bounds checks. */
class PickleCursor {
  position = 0;
  private readonly view: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly fail: (problem: string) => Error,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private claim(count: number, what: string): number {
    const at = this.position;
    if (count > this.bytes.length - at) {
      throw this.fail(`the pickle ends inside ${what} (needs ${count} bytes at offset ${at}, has ${this.bytes.length - at})`);
    }
    this.position = at + count;
    return at;
  }

  u8(what: string): number {
    return this.bytes[this.claim(1, what)]!;
  }
  u16(what: string): number {
    return this.view.getUint16(this.claim(2, what), true);
  }
  i32(what: string): number {
    return this.view.getInt32(this.claim(4, what), true);
  }
  u32(what: string): number {
    return this.view.getUint32(this.claim(4, what), true);
  }
  u64(what: string): number {
    const value = this.view.getBigUint64(this.claim(8, what), true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw this.fail(`${what} is impossibly large (${value})`);
    return Number(value);
  }
  f64BigEndian(what: string): number {
    return this.view.getFloat64(this.claim(8, what), false);
  }
  take(count: number, what: string): Uint8Array {
    const at = this.claim(count, what);
    return this.bytes.subarray(at, at + count);
  }
  /** A newline-terminated line, as the text GLOBAL opcode stores module and name. */
  line(what: string): Uint8Array {
    const end = this.bytes.indexOf(0x0a, this.position);
    if (end < 0) throw this.fail(`the pickle ends inside ${what}`);
    const line = this.bytes.subarray(this.position, end);
    this.position = end + 1;
    return line;
  }
}

class PickleMachine {
  private readonly cursor: PickleCursor;
  private readonly sourceName: string;
  private readonly allowedGlobals: ReadonlyMap<string, PickleGlobal>;
  private readonly persistentLoad: ((id: PickleValue) => PickleValue) | undefined;
  private readonly utf8 = new TextDecoder('utf-8', { fatal: true });
  private stack: PickleValue[] = [];
  /** Where each open MARK began in `stack`. */
  private readonly marks: number[] = [];
  private readonly memo = new Map<number, PickleValue>();
  private opcodeOffset = 0;

  get bytesRead(): number {
    return this.cursor.position;
  }

  constructor(bytes: Uint8Array, options: UnpickleOptions) {
    this.sourceName = options.sourceName ?? 'pickle';
    this.allowedGlobals = options.allowedGlobals ?? new Map();
    this.persistentLoad = options.persistentLoad;
    this.cursor = new PickleCursor(bytes, (problem) => this.error(problem));
  }

  run(): PickleValue {
    const cursor = this.cursor;
    for (;;) {
      this.opcodeOffset = cursor.position;
      const op = cursor.u8('an opcode (no STOP)');
      switch (op) {
        case Op.PROTO: {
          const version = cursor.u8('PROTO');
          if (version > HIGHEST_PROTOCOL) throw this.error(`pickle protocol ${version} is newer than ${HIGHEST_PROTOCOL}`);
          break;
        }
        case Op.FRAME:
          cursor.u64('FRAME'); // Framing only groups opcodes for buffered reads; nothing to do.
          break;
        case Op.STOP:
          return this.pop();

        case Op.NONE:
          this.push(null);
          break;
        case Op.NEWTRUE:
          this.push(true);
          break;
        case Op.NEWFALSE:
          this.push(false);
          break;
        case Op.BININT:
          this.push(cursor.i32('BININT'));
          break;
        case Op.BININT1:
          this.push(cursor.u8('BININT1'));
          break;
        case Op.BININT2:
          this.push(cursor.u16('BININT2'));
          break;
        case Op.LONG1:
          this.push(decodeLong(cursor.take(cursor.u8('LONG1 length'), 'LONG1')));
          break;
        case Op.LONG4: {
          const length = cursor.i32('LONG4 length');
          if (length < 0) throw this.error('LONG4 has a negative length');
          this.push(decodeLong(cursor.take(length, 'LONG4')));
          break;
        }
        case Op.BINFLOAT:
          this.push(cursor.f64BigEndian('BINFLOAT'));
          break;

        case Op.SHORT_BINUNICODE:
          this.push(this.text(cursor.take(cursor.u8('SHORT_BINUNICODE length'), 'SHORT_BINUNICODE')));
          break;
        case Op.BINUNICODE:
          this.push(this.text(cursor.take(cursor.u32('BINUNICODE length'), 'BINUNICODE')));
          break;
        case Op.BINUNICODE8:
          this.push(this.text(cursor.take(cursor.u64('BINUNICODE8 length'), 'BINUNICODE8')));
          break;
        case Op.SHORT_BINBYTES:
          this.push(cursor.take(cursor.u8('SHORT_BINBYTES length'), 'SHORT_BINBYTES').slice());
          break;
        case Op.BINBYTES:
          this.push(cursor.take(cursor.u32('BINBYTES length'), 'BINBYTES').slice());
          break;
        case Op.BINBYTES8:
          this.push(cursor.take(cursor.u64('BINBYTES8 length'), 'BINBYTES8').slice());
          break;

        case Op.MARK:
          this.marks.push(this.stack.length);
          break;
        case Op.POP:
          this.pop();
          break;
        case Op.POP_MARK:
          this.popToMark();
          break;
        case Op.DUP:
          this.push(this.peek());
          break;

        case Op.EMPTY_TUPLE:
          this.push(tuple([]));
          break;
        case Op.TUPLE:
          this.push(tuple(this.popToMark()));
          break;
        case Op.TUPLE1:
        case Op.TUPLE2:
        case Op.TUPLE3: {
          const count = op - Op.TUPLE1 + 1;
          if (this.stack.length - this.floor() < count) throw this.error(`TUPLE${count} needs ${count} items on the stack`);
          this.push(tuple(this.stack.splice(this.stack.length - count, count)));
          break;
        }
        case Op.EMPTY_LIST:
          this.push([]);
          break;
        case Op.LIST:
          this.push(this.popToMark());
          break;
        case Op.APPEND: {
          const item = this.pop();
          this.listOnTop('APPEND').push(item);
          break;
        }
        case Op.APPENDS: {
          const items = this.popToMark();
          const list = this.listOnTop('APPENDS');
          for (const item of items) list.push(item); // no spread: it overflows the call stack on long lists
          break;
        }
        case Op.EMPTY_DICT:
          this.push(new Map());
          break;
        case Op.DICT: {
          const dict: PickleDict = new Map();
          this.setPairs(dict, this.popToMark(), 'DICT');
          this.push(dict);
          break;
        }
        case Op.SETITEM: {
          const value = this.pop();
          const key = this.pop();
          this.dictOnTop('SETITEM').set(key, value);
          break;
        }
        case Op.SETITEMS: {
          const pairs = this.popToMark();
          this.setPairs(this.dictOnTop('SETITEMS'), pairs, 'SETITEMS');
          break;
        }

        case Op.BINPUT:
          this.memo.set(cursor.u8('BINPUT'), this.peek());
          break;
        case Op.LONG_BINPUT:
          this.memo.set(cursor.u32('LONG_BINPUT'), this.peek());
          break;
        case Op.MEMOIZE:
          this.memo.set(this.memo.size, this.peek());
          break;
        case Op.BINGET:
          this.push(this.recall(cursor.u8('BINGET')));
          break;
        case Op.LONG_BINGET:
          this.push(this.recall(cursor.u32('LONG_BINGET')));
          break;

        case Op.GLOBAL: {
          const module = this.text(cursor.line('GLOBAL module'));
          const name = this.text(cursor.line('GLOBAL name'));
          this.push(this.resolveGlobal(module, name));
          break;
        }
        case Op.STACK_GLOBAL: {
          const name = this.pop();
          const module = this.pop();
          if (typeof module !== 'string' || typeof name !== 'string') {
            throw this.error('STACK_GLOBAL needs a module name and a global name (strings) on the stack');
          }
          this.push(this.resolveGlobal(module, name));
          break;
        }
        case Op.REDUCE: {
          const args = this.pop();
          const callable = this.pop();
          this.push(this.call(callable, args, 'REDUCE'));
          break;
        }
        case Op.NEWOBJ: {
          const args = this.pop();
          const cls = this.pop();
          this.push(this.call(cls, args, 'NEWOBJ'));
          break;
        }
        case Op.BUILD: {
          const state = this.pop();
          const target = this.peek();
          if (target instanceof PickleHostObject) target.setState(state);
          else if (!(target instanceof Map)) throw this.error(`BUILD on a ${describePickleValue(target)}, which has no state to set`);
          // A dict's BUILD state holds attributes such as a state_dict's `_metadata`: dropped.
          break;
        }
        case Op.BINPERSID: {
          const id = this.pop();
          if (!this.persistentLoad) throw this.error('the pickle uses a persistent id, but no resolver was given');
          try {
            this.push(this.persistentLoad(id));
          } catch (err) {
            throw this.error((err as Error).message);
          }
          break;
        }

        default:
          throw this.error(
            `unsupported opcode 0x${op.toString(16).padStart(2, '0')}` +
              (op >= 0x20 && op < 0x7f ? ` ('${String.fromCharCode(op)}')` : '') +
              `; only the binary pickle subset that torch.save writes is understood`,
          );
      }
    }
  }

  private error(problem: string): Error {
    return new Error(`${this.sourceName}: ${clipText(problem)} (pickle opcode at byte ${this.opcodeOffset})`);
  }

  private text(bytes: Uint8Array): string {
    try {
      return this.utf8.decode(bytes);
    } catch {
      throw this.error('a string is not valid UTF-8');
    }
  }

  /** The lowest stack index the current opcode may touch: items below the last MARK are off-limits. */
  private floor(): number {
    return this.marks.length > 0 ? this.marks[this.marks.length - 1]! : 0;
  }

  private push(value: PickleValue): void {
    this.stack.push(value);
  }

  private pop(): PickleValue {
    if (this.stack.length <= this.floor()) throw this.error('the stack is empty');
    return this.stack.pop()!;
  }

  private peek(): PickleValue {
    if (this.stack.length <= this.floor()) throw this.error('the stack is empty');
    return this.stack[this.stack.length - 1]!;
  }

  private popToMark(): PickleValue[] {
    const mark = this.marks.pop();
    if (mark === undefined) throw this.error('an opcode needs a MARK but none is open');
    return this.stack.splice(mark);
  }

  private recall(index: number): PickleValue {
    if (!this.memo.has(index)) throw this.error(`memo slot ${index} is read before it is written`);
    return this.memo.get(index)!;
  }

  private listOnTop(opcode: string): PickleValue[] {
    const target = this.peek();
    if (!Array.isArray(target) || Object.isFrozen(target)) throw this.error(`${opcode} needs a list, found a ${describePickleValue(target)}`);
    return target;
  }

  private dictOnTop(opcode: string): PickleDict {
    const target = this.peek();
    if (!(target instanceof Map)) throw this.error(`${opcode} needs a dict, found a ${describePickleValue(target)}`);
    return target;
  }

  private setPairs(dict: PickleDict, flat: PickleValue[], opcode: string): void {
    if (flat.length % 2 !== 0) throw this.error(`${opcode} has a key without a value`);
    for (let i = 0; i < flat.length; i += 2) dict.set(flat[i]!, flat[i + 1]!);
  }

  private resolveGlobal(module: string, name: string): PickleGlobal {
    const qualifiedName = `${module}.${name}`;
    const allowed = this.allowedGlobals.get(qualifiedName);
    if (!allowed) throw new PickleGlobalRefusedError(qualifiedName, this.sourceName);
    return allowed;
  }

  private call(callable: PickleValue, args: PickleValue, opcode: string): PickleValue {
    if (!(callable instanceof PickleGlobal)) throw this.error(`${opcode} on a ${describePickleValue(callable)}, which is not callable`);
    if (!callable.call) throw this.error(`${opcode} calls '${callable.qualifiedName}', which is allowed only as a value`);
    if (!Array.isArray(args)) throw this.error(`${opcode} arguments for '${callable.qualifiedName}' are a ${describePickleValue(args)}, not a tuple`);
    try {
      return callable.call(args);
    } catch (err) {
      throw this.error(`${callable.qualifiedName}: ${(err as Error).message}`);
    }
  }
}

function tuple(items: PickleValue[]): PickleValue[] {
  return Object.freeze(items) as PickleValue[];
}

const HEX_DIGITS = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

/** Little-endian two's-complement integer of any width (LONG1/LONG4); a bigint only when unsafe as a number. */
function decodeLong(bytes: Uint8Array): number | bigint {
  if (bytes.length === 0) return 0;
  // One parse of the hex digits is linear in the length; shifting in a byte at a time is quadratic
  // (a 100 KB LONG4 took 16 s, a few MB would never finish).
  let hex = '';
  for (let i = bytes.length - 1; i >= 0; i--) hex += HEX_DIGITS[bytes[i]!];
  let value = BigInt(`0x${hex}`);
  if (bytes[bytes.length - 1]! & 0x80) value -= 1n << BigInt(bytes.length * 8);
  const safe = value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER);
  return safe ? Number(value) : value;
}

/** A short name for a value's Python-ish type, for error messages. */
export function describePickleValue(value: PickleValue): string {
  if (value === null) return 'None';
  if (Array.isArray(value)) return Object.isFrozen(value) ? 'tuple' : 'list';
  if (value instanceof Map) return 'dict';
  if (value instanceof Uint8Array) return 'bytes';
  if (value instanceof PickleGlobal) return `global '${value.qualifiedName}'`;
  if (value instanceof PickleHostObject) return value.hostType;
  if (typeof value === 'number' || typeof value === 'bigint') return 'number';
  return typeof value === 'string' ? 'str' : 'bool';
}
