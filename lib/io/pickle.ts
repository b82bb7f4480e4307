// A pickle reader that runs no code. It knows the opcodes torch.save's pickles use (protocol
// 0-2 containers, numbers, strings, bytes, memo; protocol 4's SHORT_BINUNICODE, FRAME,
// MEMOIZE, sets and NEWOBJ_EX) and builds values from them itself (pickle-values.ts):
//
// - A few globals are understood and computed here, never looked up: collections.OrderedDict
//   (a Map), torch._utils._rebuild_tensor(_v2) and _rebuild_parameter (a TensorRef),
//   torch.nn.parameter.Parameter, builtins.set / frozenset (an array), _codecs.encode of
//   latin-1 text (a Buffer), and copyreg's _reconstructor / __newobj__ (a PyObject of the
//   class they name).
// - REDUCE, NEWOBJ and NEWOBJ_EX of any other global make an inert PyObject placeholder of
//   that name holding the arguments; BUILD on a placeholder records its state, SETITEM(S) and
//   APPEND(S) its items. A BUILD on anything else (an OrderedDict's _metadata) is dropped.
//   Nothing the pickle names is imported or called, so reading a file never runs its code.
// - Persistent ids are handed to the caller (the storages of a tensor file).
//
// Bounded: the caller bounds the buffer; containers may nest at most `maxDepth` deep and a
// container inside itself is refused (checked once, at STOP, without recursion).
import { RepmlpError } from '../errors';
import { brief, checkNesting, isIndex, PyGlobal, PyObject, STORAGE_DTYPES, StorageRef, TensorRef } from './pickle-values';

/** The deepest nesting of lists, tuples, dicts and objects in a pickle (a checkpoint nests a handful). */
export const PTH_MAX_PICKLE_DEPTH = 100;

const MARK = Symbol('mark');

/** The error of a pickle that ends before its STOP: a caller holding only part of a file may read more and try again. */
export class PickleTruncated extends RepmlpError {}

/** A pickle's value and the byte after its STOP (where the next pickle of a legacy file starts). */
export interface Unpickled {
  value: unknown;
  end: number;
}

type Call = (args: unknown[], u: Unpickler, name: string) => unknown;

/** The globals whose calls are computed here; any other call makes a placeholder. */
const CALLS: Readonly<Record<string, Call>> = {
  'collections.OrderedDict': (args, u) => orderedDict(args, u),
  'torch._utils._rebuild_tensor_v2': (args, u) => rebuildTensor(args, u),
  'torch._utils._rebuild_tensor': (args, u) => rebuildTensor(args, u),
  'torch._utils._rebuild_parameter': (args, u) => rebuildParameter(args, u),
  'torch._utils._rebuild_parameter_with_state': (args, u) => rebuildParameter(args, u),
  'builtins.set': setOf, '__builtin__.set': setOf, 'builtins.frozenset': setOf, '__builtin__.frozenset': setOf,
  '_codecs.encode': (args, _u, name) =>
    typeof args[0] === 'string' && (args[1] === 'latin1' || args[1] === 'latin-1') ? Buffer.from(args[0], 'latin1') : new PyObject(name, args),
  'copyreg._reconstructor': objectOf, 'copy_reg._reconstructor': objectOf, 'copyreg.__newobj__': objectOf, 'copy_reg.__newobj__': objectOf,
};

function orderedDict(args: unknown[], u: Unpickler): Map<unknown, unknown> {
  const out = new Map<unknown, unknown>();
  const pairs = args[0] ?? [];
  if (!Array.isArray(pairs)) u.bad(`expected a list of pairs for OrderedDict but received ${brief(pairs)}`);
  for (const p of pairs) {
    if (!Array.isArray(p) || p.length !== 2) u.bad(`expected (key, value) pairs for OrderedDict but received ${brief(p)}`);
    out.set(p[0], p[1]);
  }
  return out;
}

function rebuildTensor(args: unknown[], u: Unpickler): TensorRef {
  const [storage, offset, shape, stride] = args;
  if (!(storage instanceof StorageRef) || !isIndex(offset) || !Array.isArray(shape) || !shape.every(isIndex) || !Array.isArray(stride) || !stride.every(isIndex) || stride.length !== shape.length)
    u.bad(`expected (storage, offset, shape, stride) of non-negative integers for _rebuild_tensor_v2 but received ${brief(args)}`);
  return new TensorRef(storage, offset, [...shape], [...stride]);
}

function rebuildParameter(args: unknown[], u: Unpickler): TensorRef {
  if (!(args[0] instanceof TensorRef)) u.bad(`_rebuild_parameter of something that is not a tensor: ${brief(args[0])}`);
  return args[0];
}

function setOf(args: unknown[]): unknown[] {
  return Array.isArray(args[0]) ? [...args[0]] : [];
}

/** copyreg's ways of making an object of a class without calling it: a placeholder of that class. */
function objectOf(args: unknown[], _u: Unpickler, name: string): PyObject {
  const cls = args[0];
  return cls instanceof PyGlobal ? new PyObject(cls.qualified, args.slice(1)) : new PyObject(name, args);
}

/** REDUCE / NEWOBJ of `callee` with `args`: a computed value for a known global, else a placeholder. */
function call(u: Unpickler, callee: unknown, args: unknown, opcode: string): unknown {
  if (!(callee instanceof PyGlobal) || !Array.isArray(args))
    u.bad(`${opcode} of ${brief(callee)} on ${brief(args)}, which is not a global by name with arguments`);
  const name = callee.qualified;
  if (opcode !== 'REDUCE' && name === 'torch.nn.parameter.Parameter') return rebuildParameter(args, u);
  const known = CALLS[name];
  return known ? known(args, u, name) : new PyObject(name, args);
}

/**
 * The storage of a persistent id: ('storage', torch.<X>Storage, key, location, numel) in the
 * zip format, with a sixth entry (a view of another storage, None since PyTorch 1.0) in the
 * legacy one. The legacy format's ('module', class, source file, source) ids name a module's
 * class and become that global.
 */
export function storageOfPid(pid: unknown, u: Unpickler): StorageRef | PyGlobal {
  if (Array.isArray(pid) && pid[0] === 'module' && pid[1] instanceof PyGlobal) return pid[1];
  if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) u.bad(`unsupported persistent id ${brief(pid)}`);
  const [, cls, key, , numel, view] = pid as unknown[];
  if (!(cls instanceof PyGlobal) || cls.module !== 'torch' || !(cls.name in STORAGE_DTYPES))
    u.bad(`storage type ${brief(cls)} is not supported (supported: ${Object.keys(STORAGE_DTYPES).join(', ')})`);
  if (typeof key !== 'string' && !isIndex(key)) u.bad(`expected a string key for a storage but received ${brief(key)}`);
  if (!isIndex(numel)) u.bad(`expected a non-negative integer element count for storage '${key}' but received ${brief(numel)}`);
  if (view !== undefined && view !== null) u.bad(`storage '${key}' is a view of another storage (${brief(view)}), which files of PyTorch 1.0 and later never hold`);
  return new StorageRef(STORAGE_DTYPES[cls.name], String(key), numel);
}

/** A signed little-endian integer as a number, or a BigInt beyond 2^53. */
function littleEndianInt(b: Buffer): number | bigint {
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  if (b.length && b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

type Op = (u: Unpickler) => void;

/** The opcodes, each a short action on the unpickler's stack (STOP is handled by run()). */
const OPS: Readonly<Record<number, Op>> = {
  0x80: (u) => void u.byte(), // PROTO
  0x95: (u) => void u.bytes(8), // FRAME
  0x28: (u) => u.push(MARK), // MARK
  0x4e: (u) => u.push(null), // NONE
  0x88: (u) => u.push(true), // NEWTRUE
  0x89: (u) => u.push(false), // NEWFALSE
  0x4a: (u) => u.push(u.bytes(4).readInt32LE(0)), // BININT
  0x4b: (u) => u.push(u.byte()), // BININT1
  0x4d: (u) => u.push(u.bytes(2).readUInt16LE(0)), // BININT2
  0x8a: (u) => u.push(littleEndianInt(u.bytes(u.byte()))), // LONG1
  0x8b: (u) => u.push(littleEndianInt(u.bytes(u.length(4)))), // LONG4
  0x47: (u) => u.push(u.bytes(8).readDoubleBE(0)), // BINFLOAT
  0x58: (u) => u.push(u.bytes(u.length(4)).toString('utf8')), // BINUNICODE
  0x8c: (u) => u.push(u.bytes(u.byte()).toString('utf8')), // SHORT_BINUNICODE
  0x8d: (u) => u.push(u.bytes(u.length(8)).toString('utf8')), // BINUNICODE8
  0x54: (u) => u.push(u.bytes(u.length(4)).toString('latin1')), // BINSTRING
  0x55: (u) => u.push(u.bytes(u.byte()).toString('latin1')), // SHORT_BINSTRING
  0x43: (u) => u.push(Buffer.from(u.bytes(u.byte()))), // SHORT_BINBYTES
  0x42: (u) => u.push(Buffer.from(u.bytes(u.length(4)))), // BINBYTES
  0x8e: (u) => u.push(Buffer.from(u.bytes(u.length(8)))), // BINBYTES8
  0x7d: (u) => u.push(new Map()), // EMPTY_DICT
  0x5d: (u) => u.push([]), // EMPTY_LIST
  0x29: (u) => u.push([]), // EMPTY_TUPLE
  0x8f: (u) => u.push([]), // EMPTY_SET (a set is an array here)
  0x74: (u) => u.push(u.popMark()), // TUPLE
  0x6c: (u) => u.push(u.popMark()), // LIST
  0x91: (u) => u.push(u.popMark()), // FROZENSET
  0x85: (u) => u.push([u.pop()]), // TUPLE1
  0x86: (u) => { const b = u.pop(), a = u.pop(); u.push([a, b]); }, // TUPLE2
  0x87: (u) => { const c = u.pop(), b = u.pop(), a = u.pop(); u.push([a, b, c]); }, // TUPLE3
  0x64: (u) => { const d = new Map(); u.setItems(d, u.popMark()); u.push(d); }, // DICT
  0x61: (u) => { const v = u.pop(); u.append(u.top(), [v]); }, // APPEND
  0x65: (u) => { const items = u.popMark(); u.append(u.top(), items); }, // APPENDS
  0x90: (u) => { const items = u.popMark(); u.append(u.top(), items); }, // ADDITEMS
  0x73: (u) => { const v = u.pop(), k = u.pop(); u.setItems(u.top(), [k, v]); }, // SETITEM
  0x75: (u) => { const items = u.popMark(); u.setItems(u.top(), items); }, // SETITEMS
  0x71: (u) => u.put(u.byte()), // BINPUT
  0x72: (u) => u.put(u.bytes(4).readUInt32LE(0)), // LONG_BINPUT
  0x94: (u) => u.put(-1), // MEMOIZE
  0x68: (u) => u.push(u.get(u.byte())), // BINGET
  0x6a: (u) => u.push(u.get(u.bytes(4).readUInt32LE(0))), // LONG_BINGET
  0x63: (u) => { const module = u.line(); u.push(new PyGlobal(module, u.line())); }, // GLOBAL
  0x93: (u) => { const name = u.pop(), module = u.pop(); u.push(new PyGlobal(String(module), String(name))); }, // STACK_GLOBAL
  0x51: (u) => u.push(u.persistent(u.pop())), // BINPERSID
  0x52: (u) => { const args = u.pop(), fn = u.pop(); u.push(call(u, fn, args, 'REDUCE')); }, // REDUCE
  0x81: (u) => { const args = u.pop(), cls = u.pop(); u.push(call(u, cls, args, 'NEWOBJ')); }, // NEWOBJ
  0x92: (u) => { u.pop(); const args = u.pop(), cls = u.pop(); u.push(call(u, cls, args, 'NEWOBJ_EX')); }, // NEWOBJ_EX (kwargs dropped)
  0x62: (u) => { const state = u.pop(), target = u.top(); if (target instanceof PyObject) target.state = state; }, // BUILD
  0x30: (u) => void u.pop(), // POP
  0x31: (u) => void u.popMark(), // POP_MARK
  0x32: (u) => u.push(u.top()), // DUP
};

export class Unpickler {
  private pos: number;
  private stack: unknown[] = [];
  private marks: number[] = [];
  private memo = new Map<number, unknown>();

  /**
   * `where` names the source in errors (`pth: <where>: ...`); persistent ids go to
   * `persistentLoad`; reading starts at byte `start` of `buf`.
   */
  constructor(
    private readonly buf: Buffer,
    private readonly where: string,
    private readonly persistentLoad: (pid: unknown, u: Unpickler) => unknown,
    start = 0,
    private readonly maxDepth = PTH_MAX_PICKLE_DEPTH,
  ) {
    this.pos = start;
  }

  bad(what: string): never {
    throw new RepmlpError(`pth: ${this.where}: ${what}`);
  }

  /** Runs to STOP: the value and where the pickle ends. */
  run(): Unpickled {
    for (;;) {
      const op = this.byte();
      if (op === 0x2e) {
        const value = this.pop();
        checkNesting(value, this.maxDepth, (what) => this.bad(what));
        return { value, end: this.pos };
      }
      const action = OPS[op];
      if (!action) this.bad(`unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')} at byte ${this.pos - 1}`);
      action(this);
    }
  }

  private truncated(what = 'the pickle ends before STOP'): never {
    throw new PickleTruncated(`pth: ${this.where}: ${what}`);
  }

  byte(): number {
    if (this.pos >= this.buf.length) this.truncated();
    return this.buf[this.pos++];
  }

  bytes(n: number): Buffer {
    if (this.pos + n > this.buf.length) this.truncated();
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  /** A 4- or 8-byte little-endian length. */
  length(width: 4 | 8): number {
    const b = this.bytes(width);
    return width === 4 ? b.readUInt32LE(0) : Number(b.readBigUInt64LE(0));
  }

  line(): string {
    const end = this.buf.indexOf(0x0a, this.pos);
    if (end < 0) this.truncated('the pickle ends inside a text line');
    const s = this.buf.subarray(this.pos, end).toString('utf8');
    this.pos = end + 1;
    return s;
  }

  push(v: unknown): void {
    if (v === MARK) this.marks.push(this.stack.length);
    else this.stack.push(v);
  }

  pop(): unknown {
    if (this.stack.length === 0 || this.marks[this.marks.length - 1] === this.stack.length) this.bad('the pickle stack underflows');
    return this.stack.pop();
  }

  top(): unknown {
    if (this.stack.length === 0) this.bad('the pickle stack underflows');
    return this.stack[this.stack.length - 1];
  }

  popMark(): unknown[] {
    const m = this.marks.pop();
    if (m === undefined) this.bad('a pickle opcode needs a MARK that is missing');
    return this.stack.splice(m);
  }

  /** SETITEM(S): into a dict, or into a placeholder (a dict subclass's contents). */
  setItems(target: unknown, items: unknown[]): void {
    const into = target instanceof PyObject ? target.items : target;
    if (!(into instanceof Map)) this.bad(`SETITEM(S) on ${brief(target)}, which is not a dict`);
    for (let i = 0; i + 1 < items.length; i += 2) into.set(items[i], items[i + 1]);
  }

  /** APPEND(S) and ADDITEMS: onto a list or set, or into a placeholder (a list subclass's contents). */
  append(target: unknown, items: unknown[]): void {
    const onto = target instanceof PyObject ? target.elements : target;
    if (!Array.isArray(onto)) this.bad(`APPEND(S) to ${brief(target)}, which is not a list`);
    for (const x of items) onto.push(x);
  }

  /** BINPUT / LONG_BINPUT at index i, MEMOIZE (i = -1) at the next index. */
  put(i: number): void {
    this.memo.set(i < 0 ? this.memo.size : i, this.top());
  }

  get(i: number): unknown {
    if (!this.memo.has(i)) this.bad(`the pickle refers to memo ${i}, which was never stored`);
    return this.memo.get(i);
  }

  persistent(pid: unknown): unknown {
    return this.persistentLoad(pid, this);
  }
}
