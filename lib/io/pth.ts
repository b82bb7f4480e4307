// PyTorch checkpoints (.pth / .pt) as written by torch.save since 1.6: a zip archive holding
// `<root>/data.pkl` (a pickle, protocol 2) and one raw little-endian storage per tensor at
// `<root>/data/<key>`. The archive is read through its central directory with positioned
// reads, one entry at a time (a checkpoint of hundreds of MB is never held as one string);
// torch writes the entries stored, deflated entries are inflated too.
//
// The unpickler is restricted to what torch.save emits for a state dict: the opcodes in
// `Unpickler.run` (protocol 0-2 container, int, float, string and memo opcodes, plus the
// protocol 4 SHORT_BINUNICODE / FRAME / MEMOIZE that newer writers may use) and these
// globals only: collections.OrderedDict, torch._utils._rebuild_tensor_v2,
// torch._utils._rebuild_parameter and the storage classes torch.{Float,Half,BFloat16,Long}Storage
// (referenced by persistent ids ('storage', <class>, key, location, numel)). Anything else
// (arbitrary code in a pickle) is refused, so loading a checkpoint never runs code.
//
// Nested wrappers common in published checkpoints ({'model': sd}, {'state_dict': sd},
// keys 'module', 'net', 'network') and DataParallel's `module.` prefixes are removed.
//
// Reading is bounded, so a hostile file is refused before it takes memory: a deflated
// entry may declare at most MAX_DEFLATE_RATIO times its compressed size (what deflate can
// reach) and is inflated with zlib's maxOutputLength set to its declared size (a lying
// header cannot expand past it); the pickle may be at most PTH_MAX_PICKLE_BYTES and nest at
// most PTH_MAX_PICKLE_DEPTH containers deep, and one that refers to itself is refused; each
// storage must hold exactly the bytes its tensors' pickle entries declare.
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { RepmlpError } from '../errors';
import { bytesText } from './read';
import { widenHalf } from './half';
import { readSafetensors, type HostTensor } from './safetensors';

/** Deflate's largest expansion: about 1032 output bytes per input byte (258-byte matches in 2 bits). */
export const MAX_DEFLATE_RATIO = 1032;
/** The largest data.pkl read (a state dict's pickle is kB to a few MB; the tensors are separate entries). */
export const PTH_MAX_PICKLE_BYTES = 64 * 2 ** 20;
/** The deepest nesting of lists, tuples and dicts in a pickle (a checkpoint nests a handful). */
export const PTH_MAX_PICKLE_DEPTH = 100;

export interface PthReadOptions {
  /** the largest data.pkl accepted, in bytes (default PTH_MAX_PICKLE_BYTES) */
  maxPickleBytes?: number;
}

// ---------------------------------------------------------------------------------------
// zip

interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

class ZipReader {
  readonly entries = new Map<string, ZipEntry>();
  private readonly fd: number;
  private readonly fileSize: number;

  constructor(private readonly file: string) {
    try {
      this.fd = fs.openSync(file, 'r');
    } catch (e) {
      throw new RepmlpError(`pth: could not read ${file}: ${(e as Error).message}`);
    }
    try {
      this.fileSize = fs.fstatSync(this.fd).size;
      this.readDirectory();
    } catch (e) {
      fs.closeSync(this.fd);
      throw e;
    }
  }

  bad(what: string): never {
    throw new RepmlpError(`pth: ${this.file} is not a PyTorch zip checkpoint: ${what}`);
  }

  private read(pos: number, len: number): Buffer {
    const buf = Buffer.alloc(len);
    let done = 0;
    while (done < len) {
      const n = fs.readSync(this.fd, buf, done, len - done, pos + done);
      if (n === 0) this.bad(`it ends at byte ${pos + done}, before the ${len} bytes needed at ${pos}`);
      done += n;
    }
    return buf;
  }

  private readDirectory(): void {
    if (this.fileSize < 22) this.bad(`it is ${this.fileSize} bytes long, too short for a zip archive`);
    // The end-of-central-directory record is in the last 22 + 65535 (comment) bytes.
    const tailLen = Math.min(this.fileSize, 22 + 65535);
    const tail = this.read(this.fileSize - tailLen, tailLen);
    let eocd = -1;
    for (let i = tailLen - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === 0x06054b50) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) {
      if (this.fileSize >= 2 && tail[0] === 0x80) this.bad('it is a legacy (pre-1.6) torch.save file; re-save it with a current PyTorch');
      this.bad('no end-of-central-directory record (not a zip file)');
    }
    let count = tail.readUInt16LE(eocd + 10);
    let dirSize = tail.readUInt32LE(eocd + 12);
    let dirOffset = tail.readUInt32LE(eocd + 16);
    // ZIP64: the locator precedes the end record.
    if ((count === 0xffff || dirOffset === 0xffffffff || dirSize === 0xffffffff) && eocd >= 20 && tail.readUInt32LE(eocd - 20) === 0x07064b50) {
      const recPos = Number(tail.readBigUInt64LE(eocd - 20 + 8));
      const rec = this.read(recPos, 56);
      if (rec.readUInt32LE(0) !== 0x06064b50) this.bad('a broken ZIP64 end record');
      count = Number(rec.readBigUInt64LE(32));
      dirSize = Number(rec.readBigUInt64LE(40));
      dirOffset = Number(rec.readBigUInt64LE(48));
    }
    if (dirOffset + dirSize > this.fileSize) this.bad(`its central directory (${dirSize} bytes at ${dirOffset}) runs past the end`);
    const dir = this.read(dirOffset, dirSize);
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > dir.length || dir.readUInt32LE(p) !== 0x02014b50) this.bad(`central directory entry ${i} is broken`);
      const method = dir.readUInt16LE(p + 10);
      let compressedSize = dir.readUInt32LE(p + 20);
      let size = dir.readUInt32LE(p + 24);
      const nameLen = dir.readUInt16LE(p + 28);
      const extraLen = dir.readUInt16LE(p + 30);
      const commentLen = dir.readUInt16LE(p + 32);
      let localOffset = dir.readUInt32LE(p + 42);
      const name = dir.subarray(p + 46, p + 46 + nameLen).toString('utf8');
      // ZIP64 extra field: the 64-bit values of the fields saturated at 0xffffffff, in order.
      let e = p + 46 + nameLen;
      const end = e + extraLen;
      while (e + 4 <= end) {
        const id = dir.readUInt16LE(e);
        const len = dir.readUInt16LE(e + 2);
        if (id === 0x0001) {
          let q = e + 4;
          if (size === 0xffffffff) (size = Number(dir.readBigUInt64LE(q))), (q += 8);
          if (compressedSize === 0xffffffff) (compressedSize = Number(dir.readBigUInt64LE(q))), (q += 8);
          if (localOffset === 0xffffffff) localOffset = Number(dir.readBigUInt64LE(q));
        }
        e += 4 + len;
      }
      this.entries.set(name, { name, method, compressedSize, size, localOffset });
      p = end + commentLen;
    }
  }

  /**
   * The bytes [from, from + len) of an entry (default: all of it), inflated when deflated.
   * The declared size is checked against what the compressed bytes can hold before any
   * memory is taken, and inflation stops at the declared size.
   */
  data(entry: ZipEntry, from = 0, len = entry.size): Buffer {
    if (from < 0 || len < 0 || from + len > entry.size)
      this.bad(`bytes ${from}..${from + len} were asked of entry '${entry.name}', which holds ${entry.size}`);
    const local = this.read(entry.localOffset, 30);
    if (local.readUInt32LE(0) !== 0x04034b50) this.bad(`the local header of '${entry.name}' is broken`);
    const start = entry.localOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
    if (start + entry.compressedSize > this.fileSize) this.bad(`entry '${entry.name}' runs past the end of the file`);
    if (entry.method === 0) {
      if (entry.size !== entry.compressedSize)
        this.bad(`stored entry '${entry.name}' declares ${entry.size} bytes but occupies ${entry.compressedSize}`);
      return this.read(start + from, len); // only the bytes asked for
    }
    if (entry.method === 8) return this.inflate(entry, start).subarray(from, from + len);
    return this.bad(`entry '${entry.name}' uses compression method ${entry.method} (only stored and deflated are read)`);
  }

  /** A deflated entry, inflated to exactly its declared size (refused when it cannot be or is not that). */
  private inflate(entry: ZipEntry, start: number): Buffer {
    if (entry.size > entry.compressedSize * MAX_DEFLATE_RATIO)
      this.bad(`entry '${entry.name}' declares ${bytesText(entry.size)} from ${entry.compressedSize} compressed bytes, more than deflate can produce (${MAX_DEFLATE_RATIO}:1)`);
    let out: Buffer;
    try {
      out = zlib.inflateRawSync(this.read(start, entry.compressedSize), { maxOutputLength: Math.max(1, entry.size) });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE')
        this.bad(`entry '${entry.name}' inflates to more than the ${bytesText(entry.size)} it declares (refused at that size)`);
      this.bad(`entry '${entry.name}' holds corrupt deflate data (${(e as Error).message})`);
    }
    if (out.length !== entry.size) this.bad(`entry '${entry.name}' inflates to ${out.length} bytes but declares ${entry.size}`);
    return out;
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

// ---------------------------------------------------------------------------------------
// pickle

/** A storage reference from a persistent id. */
class StorageRef {
  constructor(readonly dtype: StorageDType, readonly key: string, readonly numel: number) {}
}

type StorageDType = 'float32' | 'float16' | 'bfloat16' | 'int64';

const STORAGES: Record<string, StorageDType> = {
  FloatStorage: 'float32',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
};
const ITEM_BYTES: Record<StorageDType, number> = { float32: 4, float16: 2, bfloat16: 2, int64: 8 };

/** A tensor as the pickle describes it; its data is read afterwards. */
class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

class Global {
  constructor(readonly module: string, readonly name: string) {}
}

const MARK = Symbol('mark');
type Value = unknown;

const isIndex = (v: Value): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isContainer = (v: Value): v is Value[] | Map<Value, Value> => Array.isArray(v) || v instanceof Map;

/** A short rendering of a pickled value for messages: a few levels and items, never the whole (possibly cyclic) graph. */
function brief(v: Value, depth = 0): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '...' : v);
  if (v === null) return 'None';
  if (typeof v !== 'object') return String(v);
  if (depth >= 2) return Array.isArray(v) ? '[...]' : v instanceof Map ? '{...}' : v.constructor.name;
  if (Array.isArray(v)) return `[${v.slice(0, 4).map((x) => brief(x, depth + 1)).join(', ')}${v.length > 4 ? ', ...' : ''}]`;
  if (v instanceof Map) return `{${[...v.keys()].slice(0, 4).map((k) => brief(k, depth + 1)).join(', ')}${v.size > 4 ? ', ...' : ''}}`;
  if (v instanceof Global) return `${v.module}.${v.name}`;
  return v.constructor.name;
}

/** The containers directly inside a list, tuple or dict (a dict's keys and values). */
function childrenOf(v: Value[] | Map<Value, Value>): Value[] {
  return Array.isArray(v) ? v : [...v.keys(), ...v.values()];
}

/**
 * Checks the graph of containers under `root` without recursion: no container inside
 * itself (memo references can build cycles) and no path deeper than `limit`. Each container
 * is explored once (its height remembered), so shared subgraphs cost nothing extra.
 */
function checkNesting(root: Value, limit: number, bad: (what: string) => never): void {
  if (!isContainer(root)) return;
  const height = new Map<object, number>(); // containers done: the depth of the deepest path below
  const onPath = new Set<object>();
  const frames: { node: object; items: Value[]; next: number; height: number }[] = [];
  const enter = (node: Value[] | Map<Value, Value>) => {
    if (frames.length >= limit) bad(`the pickle nests deeper than ${limit} levels`);
    onPath.add(node);
    frames.push({ node, items: childrenOf(node), next: 0, height: 1 });
  };
  enter(root);
  while (frames.length) {
    const f = frames[frames.length - 1];
    if (f.next < f.items.length) {
      const c = f.items[f.next++];
      if (!isContainer(c)) continue;
      if (onPath.has(c)) bad('the pickle refers to itself (a list or dict that contains itself), which no state dict does');
      const h = height.get(c);
      if (h === undefined) enter(c);
      else if (frames.length + h > limit) bad(`the pickle nests deeper than ${limit} levels`);
      else f.height = Math.max(f.height, h + 1);
      continue;
    }
    frames.pop();
    onPath.delete(f.node);
    height.set(f.node, f.height);
    if (frames.length) frames[frames.length - 1].height = Math.max(frames[frames.length - 1].height, f.height + 1);
  }
}

class Unpickler {
  private pos = 0;
  private stack: Value[] = [];
  private marks: number[] = [];
  private memo = new Map<number, Value>();

  constructor(private readonly buf: Buffer, private readonly where: string) {}

  private bad(what: string): never {
    throw new RepmlpError(`pth: ${this.where}: ${what}`);
  }

  private byte(): number {
    if (this.pos >= this.buf.length) this.bad('the pickle ends before STOP');
    return this.buf[this.pos++];
  }

  private bytes(n: number): Buffer {
    if (this.pos + n > this.buf.length) this.bad('the pickle ends before STOP');
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  private line(): string {
    const end = this.buf.indexOf(0x0a, this.pos);
    if (end < 0) this.bad('the pickle ends inside a text line');
    const s = this.buf.subarray(this.pos, end).toString('utf8');
    this.pos = end + 1;
    return s;
  }

  private popMark(): Value[] {
    const m = this.marks.pop();
    if (m === undefined) this.bad('a pickle opcode needs a MARK that is missing');
    const items = this.stack.splice(m);
    return items;
  }

  private pop(): Value {
    if (this.stack.length === 0) this.bad('the pickle stack underflows');
    return this.stack.pop();
  }

  private top(): Value {
    if (this.stack.length === 0) this.bad('the pickle stack underflows');
    return this.stack[this.stack.length - 1];
  }

  private setItems(target: Value, items: Value[]): void {
    if (!(target instanceof Map)) this.bad('SETITEM(S) on something that is not a dict');
    for (let i = 0; i + 1 < items.length; i += 2) (target as Map<Value, Value>).set(items[i], items[i + 1]);
  }

  private persistent(pid: Value): StorageRef {
    if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) this.bad(`unsupported persistent id ${brief(pid)}`);
    const [, cls, key, , numel] = pid as [string, Value, Value, Value, Value];
    if (!(cls instanceof Global) || cls.module !== 'torch' || !(cls.name in STORAGES))
      this.bad(`storage type ${brief(cls)} is not supported (supported: float32, float16, bfloat16, int64)`);
    if (typeof key !== 'string' && !isIndex(key)) this.bad(`expected a string key for a storage but received ${brief(key)}`);
    if (!isIndex(numel)) this.bad(`expected a non-negative integer element count for storage '${key}' but received ${brief(numel)}`);
    return new StorageRef(STORAGES[cls.name], String(key), numel);
  }

  private reduce(fn: Value, args: Value): Value {
    if (!(fn instanceof Global) || !Array.isArray(args)) this.bad(`REDUCE of ${brief(fn)} on ${brief(args)}, which is not a known global with arguments`);
    const name = `${fn.module}.${fn.name}`;
    if (name === 'collections.OrderedDict') return new Map();
    if (name === 'torch._utils._rebuild_tensor_v2') {
      const [storage, offset, shape, stride] = args as [Value, Value, Value, Value];
      if (!(storage instanceof StorageRef) || !isIndex(offset) || !Array.isArray(shape) || !shape.every(isIndex) || !Array.isArray(stride) || !stride.every(isIndex) || stride.length !== shape.length)
        this.bad(`expected (storage, offset, shape, stride) of non-negative integers for _rebuild_tensor_v2 but received ${brief(args)}`);
      return new TensorRef(storage, offset, [...shape], [...stride]);
    }
    if (name === 'torch._utils._rebuild_parameter') {
      const t = (args as Value[])[0];
      if (!(t instanceof TensorRef)) this.bad('_rebuild_parameter of something that is not a tensor');
      return t;
    }
    return this.bad(`the pickle calls ${name}, which a state dict does not need (refused)`);
  }

  run(): Value {
    for (;;) {
      const op = this.byte();
      switch (op) {
        case 0x80: this.byte(); break; // PROTO
        case 0x95: this.bytes(8); break; // FRAME
        case 0x2e: { // STOP
          const root = this.pop();
          checkNesting(root, PTH_MAX_PICKLE_DEPTH, (what) => this.bad(what));
          return root;
        }
        case 0x28: this.marks.push(this.stack.length); break; // MARK
        case 0x4e: this.stack.push(null); break; // NONE
        case 0x88: this.stack.push(true); break; // NEWTRUE
        case 0x89: this.stack.push(false); break; // NEWFALSE
        case 0x4a: this.stack.push(this.bytes(4).readInt32LE(0)); break; // BININT
        case 0x4b: this.stack.push(this.byte()); break; // BININT1
        case 0x4d: this.stack.push(this.bytes(2).readUInt16LE(0)); break; // BININT2
        case 0x8a: { // LONG1
          const b = this.bytes(this.byte());
          let v = 0n;
          for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
          if (b.length && b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
          this.stack.push(Number(v));
          break;
        }
        case 0x47: this.stack.push(this.bytes(8).readDoubleBE(0)); break; // BINFLOAT
        case 0x58: this.stack.push(this.bytes(this.bytes(4).readUInt32LE(0)).toString('utf8')); break; // BINUNICODE
        case 0x8c: this.stack.push(this.bytes(this.byte()).toString('utf8')); break; // SHORT_BINUNICODE
        case 0x54: this.stack.push(this.bytes(this.bytes(4).readUInt32LE(0)).toString('latin1')); break; // BINSTRING
        case 0x55: this.stack.push(this.bytes(this.byte()).toString('latin1')); break; // SHORT_BINSTRING
        case 0x43: this.stack.push(Buffer.from(this.bytes(this.byte()))); break; // SHORT_BINBYTES
        case 0x42: this.stack.push(Buffer.from(this.bytes(this.bytes(4).readUInt32LE(0)))); break; // BINBYTES
        case 0x7d: this.stack.push(new Map()); break; // EMPTY_DICT
        case 0x5d: this.stack.push([]); break; // EMPTY_LIST
        case 0x29: this.stack.push([]); break; // EMPTY_TUPLE
        case 0x74: this.stack.push(this.popMark()); break; // TUPLE
        case 0x85: this.stack.push([this.pop()]); break; // TUPLE1
        case 0x86: { const b = this.pop(), a = this.pop(); this.stack.push([a, b]); break; } // TUPLE2
        case 0x87: { const c = this.pop(), b = this.pop(), a = this.pop(); this.stack.push([a, b, c]); break; } // TUPLE3
        case 0x6c: this.stack.push(this.popMark()); break; // LIST
        case 0x64: { // DICT
          const items = this.popMark();
          const d = new Map<Value, Value>();
          this.setItems(d, items);
          this.stack.push(d);
          break;
        }
        case 0x61: { const v = this.pop(); const l = this.top(); if (!Array.isArray(l)) this.bad('APPEND to a non-list'); l.push(v); break; } // APPEND
        case 0x65: { const items = this.popMark(); const l = this.top(); if (!Array.isArray(l)) this.bad('APPENDS to a non-list'); for (const x of items) l.push(x); break; } // APPENDS
        case 0x73: { const v = this.pop(), k = this.pop(); this.setItems(this.top(), [k, v]); break; } // SETITEM
        case 0x75: { const items = this.popMark(); this.setItems(this.top(), items); break; } // SETITEMS
        case 0x71: this.memo.set(this.byte(), this.top()); break; // BINPUT
        case 0x72: this.memo.set(this.bytes(4).readUInt32LE(0), this.top()); break; // LONG_BINPUT
        case 0x94: this.memo.set(this.memo.size, this.top()); break; // MEMOIZE
        case 0x68: this.stack.push(this.get(this.byte())); break; // BINGET
        case 0x6a: this.stack.push(this.get(this.bytes(4).readUInt32LE(0))); break; // LONG_BINGET
        case 0x63: { const module = this.line(); const name = this.line(); this.stack.push(new Global(module, name)); break; } // GLOBAL
        case 0x93: { const name = this.pop(), module = this.pop(); this.stack.push(new Global(String(module), String(name))); break; } // STACK_GLOBAL
        case 0x51: this.stack.push(this.persistent(this.pop())); break; // BINPERSID
        case 0x52: { const args = this.pop(), fn = this.pop(); this.stack.push(this.reduce(fn, args)); break; } // REDUCE
        case 0x81: { const args = this.pop(), cls = this.pop(); this.stack.push(this.reduce(cls, args)); break; } // NEWOBJ
        case 0x62: this.pop(); break; // BUILD: the state of an OrderedDict (its _metadata) is dropped
        case 0x30: this.pop(); break; // POP
        case 0x31: this.popMark(); break; // POP_MARK
        case 0x32: this.stack.push(this.top()); break; // DUP
        default:
          this.bad(`unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')} at byte ${this.pos - 1}`);
      }
    }
  }

  private get(i: number): Value {
    if (!this.memo.has(i)) this.bad(`the pickle refers to memo ${i}, which was never stored`);
    return this.memo.get(i);
  }
}

// ---------------------------------------------------------------------------------------
// tensors

/** Raw little-endian elements as a HostTensor's data (float16 / bfloat16 widened). */
function decode(bytes: Buffer, dtype: StorageDType, count: number): Float32Array | BigInt64Array {
  const ab = new ArrayBuffer(bytes.length); // aligned copy
  new Uint8Array(ab).set(bytes);
  if (dtype === 'float32') return new Float32Array(ab);
  if (dtype === 'int64') return new BigInt64Array(ab);
  return widenHalf(new Uint16Array(ab, 0, count), dtype === 'float16' ? 'F16' : 'BF16');
}

function isContiguous(shape: number[], stride: number[]): boolean {
  let expected = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && stride[d] !== expected) return false;
    expected *= shape[d];
  }
  return true;
}

/** The state dict inside a checkpoint object: a dict of tensors, possibly wrapped (the graph is acyclic: checkNesting). */
function findStateDict(obj: Value, file: string): Map<Value, Value> {
  const isTensors = (m: Value): m is Map<Value, Value> =>
    m instanceof Map && m.size > 0 && [...m.values()].every((v) => v instanceof TensorRef);
  for (let at = obj; ; ) {
    if (isTensors(at)) return at;
    if (!(at instanceof Map)) throw new RepmlpError(`pth: ${file} holds ${brief(at)} rather than a dict of tensors`);
    const key = ['state_dict', 'model', 'module', 'net', 'network'].find((k) => at instanceof Map && at.get(k) instanceof Map);
    if (key === undefined) {
      const keys = [...at.keys()].slice(0, 20).map((k) => (typeof k === 'string' ? k : brief(k)));
      throw new RepmlpError(
        `pth: ${file} holds no state dict of tensors: its ${at === obj ? 'top-level ' : ''}keys are ${keys.length ? keys.join(', ') : '(none)'}${at.size > 20 ? ', ...' : ''} ` +
          `(looked for a dict of tensors, or one under 'state_dict', 'model', 'module', 'net' or 'network')`,
      );
    }
    at = at.get(key);
  }
}

/**
 * Reads the tensors of a PyTorch checkpoint: float32 (float16 and bfloat16 widened) and
 * int64, keyed by name with DataParallel's `module.` prefix removed.
 */
export function readPth(file: string, opts: PthReadOptions = {}): Map<string, HostTensor> {
  const zip: ZipReader = new ZipReader(file);
  try {
    const pkl = [...zip.entries.keys()].find((n) => /^[^/]+\/data\.pkl$/.test(n));
    if (!pkl) zip.bad("no '<name>/data.pkl' entry");
    const root = pkl.slice(0, -'data.pkl'.length);
    const pklEntry = zip.entries.get(pkl)!;
    const maxPickle = opts.maxPickleBytes ?? PTH_MAX_PICKLE_BYTES;
    if (pklEntry.size > maxPickle)
      zip.bad(`its pickle '${pkl}' declares ${bytesText(pklEntry.size)}, more than the ${bytesText(maxPickle)} limit of a state dict's pickle`);
    const obj = new Unpickler(zip.data(pklEntry), `${file} (${pkl})`).run();
    const sd = findStateDict(obj, file);
    const out = new Map<string, HostTensor>();
    for (const k of sd.keys()) if (typeof k !== 'string') zip.bad(`expected string keys in the state dict but received ${brief(k)}`);
    const strip = [...sd.keys()].every((k) => String(k).startsWith('module.'));
    for (const [k, v] of sd) {
      const name = strip ? String(k).slice('module.'.length) : String(k);
      const t = v as TensorRef;
      const { dtype, key, numel } = t.storage;
      const count = t.shape.reduce((a, d) => a * d, 1);
      if (!Number.isSafeInteger(count)) zip.bad(`tensor '${name}' has shape [${t.shape}], more elements than can be counted`);
      if (!isContiguous(t.shape, t.stride))
        throw new RepmlpError(`pth: ${file}: tensor '${name}' is not contiguous (shape [${t.shape}], strides [${t.stride}]); save tensor.contiguous()`);
      const entry = zip.entries.get(`${root}data/${key}`);
      if (!entry) zip.bad(`tensor '${name}' refers to storage '${key}', which is not in the archive`);
      const size = ITEM_BYTES[dtype];
      if (!Number.isSafeInteger(numel * size) || entry.size !== numel * size)
        zip.bad(`storage '${key}' holds ${entry.size} bytes, not the ${numel} ${dtype} elements the pickle says`);
      if (t.offset < 0 || t.offset + count > numel)
        zip.bad(`tensor '${name}' (offset ${t.offset}, ${count} elements) does not fit its storage of ${numel} elements`);
      const bytes = zip.data(entry, t.offset * size, count * size);
      out.set(name, { dtype: dtype === 'int64' ? 'int64' : 'float32', shape: t.shape, data: decode(bytes, dtype, count) });
    }
    return out;
  } finally {
    zip.close();
  }
}

/** Reads a state dict from a .safetensors file or a PyTorch checkpoint (by content). */
export function readStateDict(file: string): Map<string, HostTensor> {
  let head: Buffer;
  try {
    const fd = fs.openSync(file, 'r');
    head = Buffer.alloc(4);
    fs.readSync(fd, head, 0, 4, 0);
    fs.closeSync(fd);
  } catch (e) {
    throw new RepmlpError(`could not read ${file}: ${(e as Error).message}`);
  }
  if (head.readUInt32LE(0) === 0x04034b50) return readPth(file);
  return readSafetensors(file);
}
