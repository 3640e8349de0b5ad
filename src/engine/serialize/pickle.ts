// A safe subset of the Python pickle VM (protocols 0-5 binary opcodes; what
// torch.save emits at its default protocol 2, plus the protocol 4/5 framing
// opcodes). Unlike Python's unpickler it never imports or calls anything:
// GLOBAL/STACK_GLOBAL, REDUCE/NEWOBJ, BUILD and persistent ids all go through
// caller-supplied hooks, which decide what a name means and reject the rest.

/** An object the hooks produced (a storage, a tensor...); opaque to the VM. */
export abstract class PyHostObject {
  abstract readonly pyType: string;
}

/** A resolved global reference (module + qualified name), never imported. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

export class PyTuple {
  constructor(readonly items: readonly PyValue[]) {}
}

export class PyList {
  readonly items: PyValue[] = [];
}

/** dict and collections.OrderedDict. Keys compare like Map keys (by value for scalars). */
export class PyDict {
  readonly items = new Map<PyValue, PyValue>();
  /** Instance attributes set by BUILD (e.g. a state_dict's `_metadata`). */
  readonly attrs = new Map<string, PyValue>();
}

export type PyValue =
  null | boolean | number | bigint | string | Uint8Array | PyTuple | PyList | PyDict | PyGlobal | PyHostObject;

export interface PickleHooks {
  /** GLOBAL / STACK_GLOBAL. Must throw for anything not allow-listed. */
  resolveGlobal(module: string, name: string): PyValue;
  /** REDUCE (`callable(*args)`) and NEWOBJ (`cls.__new__(cls, *args)`). */
  call(callable: PyValue, args: PyTuple, opcode: 'REDUCE' | 'NEWOBJ'): PyValue;
  /** BINPERSID. */
  persistentLoad(pid: PyValue): PyValue;
  /** BUILD (`obj.__setstate__(state)`); returns the object to leave on the stack. */
  build(obj: PyValue, state: PyValue): PyValue;
}

/** Describes a value for error messages without dumping it. */
export function describePyValue(v: PyValue): string {
  if (v === null) return 'None';
  if (typeof v === 'string') return `str ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`;
  if (typeof v === 'number' || typeof v === 'bigint') return `number ${v}`;
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (v instanceof Uint8Array) return `bytes[${v.byteLength}]`;
  if (v instanceof PyTuple) return `tuple[${v.items.length}]`;
  if (v instanceof PyList) return `list[${v.items.length}]`;
  if (v instanceof PyDict) return `dict[${v.items.size}]`;
  if (v instanceof PyGlobal) return `global ${v.qualifiedName}`;
  return v.pyType;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const latin1 = new TextDecoder('latin1');

// Opcode names, kept for error messages about opcodes we refuse.
const OPCODE_NAMES: Readonly<Record<number, string>> = {
  0x28: 'MARK',
  0x2e: 'STOP',
  0x30: 'POP',
  0x31: 'POP_MARK',
  0x32: 'DUP',
  0x46: 'FLOAT',
  0x49: 'INT',
  0x4a: 'BININT',
  0x4b: 'BININT1',
  0x4c: 'LONG',
  0x4d: 'BININT2',
  0x4e: 'NONE',
  0x50: 'PERSID',
  0x51: 'BINPERSID',
  0x52: 'REDUCE',
  0x53: 'STRING',
  0x54: 'BINSTRING',
  0x55: 'SHORT_BINSTRING',
  0x56: 'UNICODE',
  0x58: 'BINUNICODE',
  0x61: 'APPEND',
  0x62: 'BUILD',
  0x63: 'GLOBAL',
  0x64: 'DICT',
  0x7d: 'EMPTY_DICT',
  0x65: 'APPENDS',
  0x67: 'GET',
  0x68: 'BINGET',
  0x69: 'INST',
  0x6a: 'LONG_BINGET',
  0x6c: 'LIST',
  0x5d: 'EMPTY_LIST',
  0x6f: 'OBJ',
  0x70: 'PUT',
  0x71: 'BINPUT',
  0x72: 'LONG_BINPUT',
  0x73: 'SETITEM',
  0x74: 'TUPLE',
  0x29: 'EMPTY_TUPLE',
  0x75: 'SETITEMS',
  0x47: 'BINFLOAT',
  0x80: 'PROTO',
  0x81: 'NEWOBJ',
  0x82: 'EXT1',
  0x83: 'EXT2',
  0x84: 'EXT4',
  0x85: 'TUPLE1',
  0x86: 'TUPLE2',
  0x87: 'TUPLE3',
  0x88: 'NEWTRUE',
  0x89: 'NEWFALSE',
  0x8a: 'LONG1',
  0x8b: 'LONG4',
  0x42: 'BINBYTES',
  0x43: 'SHORT_BINBYTES',
  0x8c: 'SHORT_BINUNICODE',
  0x8d: 'BINUNICODE8',
  0x8e: 'BINBYTES8',
  0x8f: 'EMPTY_SET',
  0x90: 'ADDITEMS',
  0x91: 'FROZENSET',
  0x92: 'NEWOBJ_EX',
  0x93: 'STACK_GLOBAL',
  0x94: 'MEMOIZE',
  0x95: 'FRAME',
  0x96: 'BYTEARRAY8',
  0x97: 'NEXT_BUFFER',
  0x98: 'READONLY_BUFFER',
};

class Machine {
  private pos = 0;
  private stack: PyValue[] = [];
  private readonly marks: number[] = [];
  private readonly memo = new Map<number, PyValue>();
  private readonly view: DataView;
  private opStart = 0;

  constructor(
    private readonly data: Uint8Array,
    private readonly hooks: PickleHooks,
    private readonly source: string,
  ) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  fail(message: string): Error {
    return new Error(`pickle ${this.source}: ${message} (at byte ${this.opStart})`);
  }

  private take(n: number): Uint8Array {
    if (n < 0 || this.pos + n > this.data.byteLength) throw this.fail('truncated pickle');
    const out = this.data.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  private u8(): number {
    if (this.pos >= this.data.byteLength) throw this.fail('truncated pickle');
    return this.data[this.pos++]!;
  }

  private u16(): number {
    const b = this.take(2);
    return b[0]! | (b[1]! << 8);
  }

  private u32(): number {
    this.take(4);
    return this.view.getUint32(this.pos - 4, true);
  }

  private i32(): number {
    this.take(4);
    return this.view.getInt32(this.pos - 4, true);
  }

  private u64(): number {
    this.take(8);
    const v = this.view.getBigUint64(this.pos - 8, true);
    if (v > BigInt(this.data.byteLength)) throw this.fail('truncated pickle (length beyond end of data)');
    return Number(v);
  }

  private line(): string {
    const nl = this.data.indexOf(0x0a, this.pos);
    if (nl < 0) throw this.fail('truncated pickle (unterminated line)');
    const s = latin1.decode(this.data.subarray(this.pos, nl));
    this.pos = nl + 1;
    return s;
  }

  private utf8(n: number): string {
    try {
      return utf8.decode(this.take(n));
    } catch (err) {
      if (err instanceof Error && err.message.startsWith('pickle ')) throw err;
      throw this.fail('invalid UTF-8 in string');
    }
  }

  private push(v: PyValue): void {
    this.stack.push(v);
  }

  private pop(): PyValue {
    if (this.stack.length === 0) throw this.fail('stack underflow');
    return this.stack.pop()!;
  }

  private top(): PyValue {
    if (this.stack.length === 0) throw this.fail('stack underflow');
    return this.stack[this.stack.length - 1]!;
  }

  private popMark(): PyValue[] {
    const k = this.marks.pop();
    if (k === undefined) throw this.fail('MARK expected on the stack');
    if (k > this.stack.length) throw this.fail('corrupt MARK');
    return this.stack.splice(k);
  }

  private memoGet(i: number): PyValue {
    if (!this.memo.has(i)) throw this.fail(`memo key ${i} not found`);
    return this.memo.get(i)!;
  }

  private decodeLong(bytes: Uint8Array): number | bigint {
    if (bytes.length === 0) return 0;
    let v = 0n;
    for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]!);
    if (bytes[bytes.length - 1]! & 0x80) v -= 1n << BigInt(bytes.length * 8);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }

  private setItems(target: PyValue, pairs: PyValue[]): void {
    if (!(target instanceof PyDict)) throw this.fail(`SETITEM(S) on ${describePyValue(target)}`);
    if (pairs.length % 2 !== 0) throw this.fail('SETITEMS with an odd number of items');
    for (let i = 0; i < pairs.length; i += 2) target.items.set(pairs[i]!, pairs[i + 1]!);
  }

  private appendItems(target: PyValue, items: PyValue[]): void {
    if (!(target instanceof PyList)) throw this.fail(`APPEND(S) on ${describePyValue(target)}`);
    target.items.push(...items);
  }

  private withContext<T>(f: () => T): T {
    try {
      return f();
    } catch (err) {
      if (err instanceof Error && !err.message.startsWith('pickle ')) {
        throw this.fail(err.message);
      }
      throw err;
    }
  }

  run(): PyValue {
    for (;;) {
      this.opStart = this.pos;
      if (this.pos >= this.data.byteLength) throw this.fail('truncated pickle (no STOP opcode)');
      const op = this.data[this.pos++]!;
      switch (op) {
        case 0x80: {
          // PROTO
          const proto = this.u8();
          if (proto > 5) throw this.fail(`unsupported pickle protocol ${proto}`);
          break;
        }
        case 0x95: // FRAME: framing is only a buffering hint
          this.u64();
          break;
        case 0x2e: // STOP
          return this.pop();
        case 0x28: // MARK
          this.marks.push(this.stack.length);
          break;
        case 0x30: // POP
          if (this.marks.length > 0 && this.marks[this.marks.length - 1] === this.stack.length) this.popMark();
          else this.pop();
          break;
        case 0x31: // POP_MARK
          this.popMark();
          break;
        case 0x32: // DUP
          this.push(this.top());
          break;
        case 0x4e:
          this.push(null);
          break; // NONE
        case 0x88:
          this.push(true);
          break; // NEWTRUE
        case 0x89:
          this.push(false);
          break; // NEWFALSE
        case 0x4a:
          this.push(this.i32());
          break; // BININT
        case 0x4b:
          this.push(this.u8());
          break; // BININT1
        case 0x4d:
          this.push(this.u16());
          break; // BININT2
        case 0x8a:
          this.push(this.decodeLong(this.take(this.u8())));
          break; // LONG1
        case 0x8b: {
          // LONG4
          const n = this.i32();
          if (n < 0) throw this.fail('negative LONG4 length');
          this.push(this.decodeLong(this.take(n)));
          break;
        }
        case 0x47: // BINFLOAT (big-endian, unlike everything else)
          this.take(8);
          this.push(this.view.getFloat64(this.pos - 8, false));
          break;
        case 0x58:
          this.push(this.utf8(this.u32()));
          break; // BINUNICODE
        case 0x8c:
          this.push(this.utf8(this.u8()));
          break; // SHORT_BINUNICODE
        case 0x8d:
          this.push(this.utf8(this.u64()));
          break; // BINUNICODE8
        case 0x42:
          this.push(this.take(this.u32()).slice());
          break; // BINBYTES
        case 0x43:
          this.push(this.take(this.u8()).slice());
          break; // SHORT_BINBYTES
        case 0x8e:
          this.push(this.take(this.u64()).slice());
          break; // BINBYTES8
        case 0x96:
          this.push(this.take(this.u64()).slice());
          break; // BYTEARRAY8
        case 0x7d:
          this.push(new PyDict());
          break; // EMPTY_DICT
        case 0x5d:
          this.push(new PyList());
          break; // EMPTY_LIST
        case 0x29:
          this.push(new PyTuple([]));
          break; // EMPTY_TUPLE
        case 0x64: {
          // DICT
          const d = new PyDict();
          this.setItems(d, this.popMark());
          this.push(d);
          break;
        }
        case 0x6c: {
          // LIST
          const l = new PyList();
          l.items.push(...this.popMark());
          this.push(l);
          break;
        }
        case 0x74:
          this.push(new PyTuple(this.popMark()));
          break; // TUPLE
        case 0x85:
          this.push(new PyTuple([this.pop()]));
          break; // TUPLE1
        case 0x86: {
          // TUPLE2
          const b = this.pop();
          this.push(new PyTuple([this.pop(), b]));
          break;
        }
        case 0x87: {
          // TUPLE3
          const c = this.pop();
          const b = this.pop();
          this.push(new PyTuple([this.pop(), b, c]));
          break;
        }
        case 0x71:
          this.memo.set(this.u8(), this.top());
          break; // BINPUT
        case 0x72:
          this.memo.set(this.u32(), this.top());
          break; // LONG_BINPUT
        case 0x94:
          this.memo.set(this.memo.size, this.top());
          break; // MEMOIZE
        case 0x68:
          this.push(this.memoGet(this.u8()));
          break; // BINGET
        case 0x6a:
          this.push(this.memoGet(this.u32()));
          break; // LONG_BINGET
        case 0x63: {
          // GLOBAL
          const module = this.line();
          const name = this.line();
          this.push(this.withContext(() => this.hooks.resolveGlobal(module, name)));
          break;
        }
        case 0x93: {
          // STACK_GLOBAL
          const name = this.pop();
          const module = this.pop();
          if (typeof module !== 'string' || typeof name !== 'string') throw this.fail('STACK_GLOBAL needs two strings');
          this.push(this.withContext(() => this.hooks.resolveGlobal(module, name)));
          break;
        }
        case 0x52: {
          // REDUCE
          const args = this.pop();
          const callable = this.pop();
          if (!(args instanceof PyTuple))
            throw this.fail(`REDUCE arguments must be a tuple, got ${describePyValue(args)}`);
          this.push(this.withContext(() => this.hooks.call(callable, args, 'REDUCE')));
          break;
        }
        case 0x81: {
          // NEWOBJ
          const args = this.pop();
          const cls = this.pop();
          if (!(args instanceof PyTuple))
            throw this.fail(`NEWOBJ arguments must be a tuple, got ${describePyValue(args)}`);
          this.push(this.withContext(() => this.hooks.call(cls, args, 'NEWOBJ')));
          break;
        }
        case 0x62: {
          // BUILD
          const state = this.pop();
          const obj = this.pop();
          this.push(this.withContext(() => this.hooks.build(obj, state)));
          break;
        }
        case 0x51: {
          // BINPERSID
          const pid = this.pop();
          this.push(this.withContext(() => this.hooks.persistentLoad(pid)));
          break;
        }
        case 0x73: {
          // SETITEM
          const value = this.pop();
          const key = this.pop();
          this.setItems(this.top(), [key, value]);
          break;
        }
        case 0x75: {
          // SETITEMS
          const items = this.popMark();
          this.setItems(this.top(), items);
          break;
        }
        case 0x61: {
          // APPEND
          const value = this.pop();
          this.appendItems(this.top(), [value]);
          break;
        }
        case 0x65: {
          // APPENDS
          const items = this.popMark();
          this.appendItems(this.top(), items);
          break;
        }
        default: {
          const name = OPCODE_NAMES[op];
          throw this.fail(name ? `unsupported opcode ${name}` : `unknown opcode 0x${op.toString(16).padStart(2, '0')}`);
        }
      }
    }
  }
}

/**
 * Runs the pickle program in `data` and returns its result. Only opcodes that
 * build plain data are interpreted; everything that would import or call
 * Python code is delegated to `hooks`. `source` prefixes error messages.
 */
export function unpickle(data: Uint8Array, hooks: PickleHooks, source = '<buffer>'): PyValue {
  return new Machine(data, hooks, source).run();
}
