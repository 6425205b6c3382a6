// A restricted unpickler. It interprets the opcodes that build plain data (numbers, strings, bytes, tuples,
// lists, dicts, sets, the memo) and refuses every other one. Python globals exist only as whatever the
// caller's resolver returns, and the resolver is asked when GLOBAL/STACK_GLOBAL is read, so a refused
// name stops the load before anything could be applied. REDUCE and NEWOBJ apply only PickleCallables the
// resolver handed out, and BUILD sets state only on the PickleObjects they built: nothing named by the file
// is ever executed.
//
// Python values map to: None -> null, bool -> boolean, int -> number (bigint beyond 2^53), float -> number,
// str -> string, bytes/bytearray -> Uint8Array, list -> array, tuple -> frozen array, dict -> Map,
// set/frozenset -> Set.

import type { ByteReader } from './byte-reader.ts';

/** A host object a PickleCallable built that takes Python's BUILD state (what `__setstate__` would receive). */
export abstract class PickleObject {
  /** The Python type it stands for, for messages. */
  abstract readonly pythonType: string;
  abstract setState(state: unknown): void;
}

/** A host function the unpickler may apply through REDUCE/NEWOBJ, standing in for a Python global. */
export class PickleCallable {
  constructor(
    readonly name: string,
    readonly apply: (args: readonly unknown[]) => unknown,
  ) {}
}

export interface UnpickleOptions {
  /** The value of `module.name`; throws to refuse the global. */
  resolveGlobal(module: string, name: string): unknown;
  /** The object a persistent id (BINPERSID) stands for; without it, persistent ids are refused. */
  persistentLoad?(pid: unknown): unknown;
}

const HIGHEST_PROTOCOL = 5;

/** Reads one pickle from `reader` (which is left just past its STOP) and returns the value it builds. */
export function unpickle(reader: ByteReader, opts: UnpickleOptions): unknown {
  let stack: unknown[] = [];
  // Each MARK sets the current stack aside, as CPython's metastack does; popMark() restores it.
  const marks: unknown[][] = [];
  const memo = new Map<number, unknown>();
  let opcode = 0;
  let opcodeAt = 0;

  const fail = (msg: string): Error =>
    new Error(`pickle opcode ${describeOpcode(opcode)} at byte ${opcodeAt}: ${msg}`);
  // A function, not stack.push: `stack` is re-read after the argument (which may pop a mark) is evaluated.
  const push = (v: unknown): void => {
    stack.push(v);
  };
  const pop = (): unknown => {
    if (stack.length === 0) throw fail('the stack is empty');
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) throw fail('the stack is empty');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const items = stack;
    const outer = marks.pop();
    if (!outer) throw fail('no MARK to pop to');
    stack = outer;
    return items;
  };
  const container = <T>(test: (v: unknown) => v is T, what: string): T => {
    const v = top();
    if (!test(v)) throw fail(`expected a ${what} on the stack, found ${pyTypeName(v)}`);
    return v;
  };
  const length = (n: number | bigint): number => {
    const v = Number(n);
    if (v < 0 || !Number.isSafeInteger(v)) throw fail(`invalid length ${n}`);
    return v;
  };
  const apply = (callable: unknown, args: unknown): unknown => {
    if (!(callable instanceof PickleCallable)) throw fail(`cannot apply ${pyTypeName(callable)}: only allowed globals are callable`);
    if (!Array.isArray(args)) throw fail(`arguments of ${callable.name} must be a tuple, found ${pyTypeName(args)}`);
    return callable.apply(args);
  };
  const u8 = () => reader.byte();
  const u16 = () => dataView(reader.bytes(2)).getUint16(0, true);
  const u32 = () => dataView(reader.bytes(4)).getUint32(0, true);
  const i32 = () => dataView(reader.bytes(4)).getInt32(0, true);
  const u64 = () => dataView(reader.bytes(8)).getBigUint64(0, true);
  const utf8 = (n: number | bigint) => new TextDecoder().decode(reader.bytes(length(n)));
  const bytes = (n: number | bigint) => reader.bytes(length(n)).slice();

  for (;;) {
    opcodeAt = reader.position;
    opcode = reader.byte();
    switch (opcode) {
      case 0x80: { // PROTO
        const protocol = u8();
        if (protocol > HIGHEST_PROTOCOL) throw fail(`unsupported pickle protocol ${protocol}`);
        break;
      }
      case 0x95: // FRAME: a length hint for buffered readers; the opcodes inside follow directly
        reader.bytes(8);
        break;
      case 0x2e: // STOP
        return pop();
      case 0x28: // MARK
        marks.push(stack);
        stack = [];
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        push(top());
        break;

      case 0x4e: push(null); break; // NONE
      case 0x88: push(true); break; // NEWTRUE
      case 0x89: push(false); break; // NEWFALSE
      case 0x4a: push(i32()); break; // BININT
      case 0x4b: push(u8()); break; // BININT1
      case 0x4d: push(u16()); break; // BININT2
      case 0x8a: push(decodeLong(reader.bytes(u8()))); break; // LONG1
      case 0x8b: push(decodeLong(reader.bytes(length(i32())))); break; // LONG4
      case 0x47: push(dataView(reader.bytes(8)).getFloat64(0, false)); break; // BINFLOAT (big-endian)

      case 0x58: push(utf8(u32())); break; // BINUNICODE
      case 0x8c: push(utf8(u8())); break; // SHORT_BINUNICODE
      case 0x8d: push(utf8(u64())); break; // BINUNICODE8
      // Python 2 str; torch.load decodes it as UTF-8
      case 0x54: push(utf8(i32())); break; // BINSTRING
      case 0x55: push(utf8(u8())); break; // SHORT_BINSTRING
      case 0x42: push(bytes(u32())); break; // BINBYTES
      case 0x43: push(bytes(u8())); break; // SHORT_BINBYTES
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        push(bytes(u64()));
        break;

      case 0x29: push(Object.freeze([])); break; // EMPTY_TUPLE
      case 0x74: push(Object.freeze(popMark())); break; // TUPLE
      case 0x85: push(Object.freeze([pop()])); break; // TUPLE1
      case 0x86: { // TUPLE2
        const b = pop();
        push(Object.freeze([pop(), b]));
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop();
        const b = pop();
        push(Object.freeze([pop(), b, c]));
        break;
      }

      case 0x5d: push([]); break; // EMPTY_LIST
      case 0x6c: push(popMark()); break; // LIST
      case 0x61: { // APPEND
        const v = pop();
        container(isList, 'list').push(v);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        const list = container(isList, 'list');
        for (const v of items) list.push(v);
        break;
      }

      case 0x7d: push(new Map()); break; // EMPTY_DICT
      case 0x64: push(setItems(new Map(), popMark(), fail)); break; // DICT
      case 0x73: { // SETITEM
        const v = pop();
        const k = pop();
        container(isMap, 'dict').set(k, v);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        setItems(container(isMap, 'dict'), items, fail);
        break;
      }

      case 0x8f: push(new Set()); break; // EMPTY_SET
      case 0x91: push(new Set(popMark())); break; // FROZENSET
      case 0x90: { // ADDITEMS
        const items = popMark();
        const set = container(isSet, 'set');
        for (const v of items) set.add(v);
        break;
      }

      case 0x63: { // GLOBAL
        const module = reader.line();
        push(opts.resolveGlobal(module, reader.line()));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw fail('module and name must be strings');
        push(opts.resolveGlobal(module, name));
        break;
      }
      case 0x52: // REDUCE
      case 0x81: { // NEWOBJ
        const args = pop();
        push(apply(pop(), args));
        break;
      }
      case 0x92: { // NEWOBJ_EX
        const kwargs = pop();
        const args = pop();
        if (!isMap(kwargs) || kwargs.size > 0) throw fail('keyword arguments are not supported');
        push(apply(pop(), args));
        break;
      }
      case 0x62: { // BUILD
        const state = pop();
        const target = top();
        if (target instanceof PickleObject) target.setState(state);
        // Object state, e.g. the `_metadata` of a module's state_dict OrderedDict: not needed for data.
        else if (!isMap(target)) throw fail(`cannot set the state of ${pyTypeName(target)}`);
        break;
      }
      case 0x51: { // BINPERSID
        const pid = pop();
        if (!opts.persistentLoad) throw fail('a persistent id was found, but this pickle may not have any');
        push(opts.persistentLoad(pid));
        break;
      }

      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x68: push(memoGet(memo, u8(), fail)); break; // BINGET
      case 0x6a: push(memoGet(memo, u32(), fail)); break; // LONG_BINGET

      default:
        throw fail('unsupported opcode (only data-building opcodes are accepted)');
    }
  }
}

/** A short Python-style type name for error messages. */
export function pyTypeName(v: unknown): string {
  if (v === null) return 'None';
  if (v instanceof PickleCallable) return `global '${v.name}'`;
  if (v instanceof PickleObject) return v.pythonType;
  if (Array.isArray(v)) return Object.isFrozen(v) ? 'tuple' : 'list';
  if (v instanceof Map) return 'dict';
  if (v instanceof Set) return 'set';
  if (v instanceof Uint8Array) return 'bytes';
  switch (typeof v) {
    case 'boolean': return 'bool';
    case 'bigint': return 'int';
    case 'number': return Number.isInteger(v) ? 'int' : 'float';
    case 'string': return 'str';
    default: return typeof v === 'object' ? (v.constructor?.name ?? 'object') : typeof v;
  }
}

/** A little-endian two's-complement integer of any length (LONG1/LONG4). */
function decodeLong(bytes: Uint8Array): number | bigint {
  if (bytes.length === 0) return 0;
  let hex = '';
  for (let i = bytes.length - 1; i >= 0; i--) hex += bytes[i].toString(16).padStart(2, '0');
  let v = BigInt(`0x${hex}`);
  if (bytes[bytes.length - 1] & 0x80) v -= 1n << BigInt(8 * bytes.length);
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : v;
}

function setItems(dict: Map<unknown, unknown>, items: unknown[], fail: (msg: string) => Error): Map<unknown, unknown> {
  if (items.length % 2) throw fail(`expected key/value pairs, found ${items.length} items`);
  for (let i = 0; i < items.length; i += 2) dict.set(items[i], items[i + 1]);
  return dict;
}

function memoGet(memo: Map<number, unknown>, index: number, fail: (msg: string) => Error): unknown {
  if (!memo.has(index)) throw fail(`memo entry ${index} was never stored`);
  return memo.get(index);
}

function isList(v: unknown): v is unknown[] {
  return Array.isArray(v) && !Object.isFrozen(v);
}

function isMap(v: unknown): v is Map<unknown, unknown> {
  return v instanceof Map;
}

function isSet(v: unknown): v is Set<unknown> {
  return v instanceof Set;
}

function dataView(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function describeOpcode(op: number): string {
  const printable = op >= 0x20 && op < 0x7f ? ` '${String.fromCharCode(op)}'` : '';
  return `0x${op.toString(16).padStart(2, '0')}${printable}`;
}
