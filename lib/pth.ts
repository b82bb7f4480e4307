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
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { RepmlpError } from './errors';
import { widenHalf } from './half';
import { readSafetensors, type HostTensor } from './safetensors';

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

  /** The bytes [from, from + len) of an entry (default: all of it), inflated when deflated. */
  data(entry: ZipEntry, from = 0, len = entry.size): Buffer {
    const local = this.read(entry.localOffset, 30);
    if (local.readUInt32LE(0) !== 0x04034b50) this.bad(`the local header of '${entry.name}' is broken`);
    const start = entry.localOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
    if (start + entry.compressedSize > this.fileSize) this.bad(`entry '${entry.name}' runs past the end of the file`);
    if (entry.method === 0) return this.read(start + from, len); // only the bytes asked for
    if (entry.method === 8) return zlib.inflateRawSync(this.read(start, entry.compressedSize)).subarray(from, from + len);
    return this.bad(`entry '${entry.name}' uses compression method ${entry.method} (only stored and deflated are read)`);
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
    if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) this.bad(`unsupported persistent id ${JSON.stringify(String(pid))}`);
    const [, cls, key, , numel] = pid as [string, Value, Value, Value, Value];
    if (!(cls instanceof Global) || cls.module !== 'torch' || !(cls.name in STORAGES))
      this.bad(`storage type ${cls instanceof Global ? `${cls.module}.${cls.name}` : String(cls)} is not supported (supported: float32, float16, bfloat16, int64)`);
    return new StorageRef(STORAGES[cls.name], String(key), Number(numel));
  }

  private reduce(fn: Value, args: Value): Value {
    if (!(fn instanceof Global) || !Array.isArray(args)) this.bad('REDUCE on something that is not a known global');
    const name = `${fn.module}.${fn.name}`;
    if (name === 'collections.OrderedDict') return new Map();
    if (name === 'torch._utils._rebuild_tensor_v2') {
      const [storage, offset, shape, stride] = args as [Value, Value, Value, Value];
      if (!(storage instanceof StorageRef) || !Array.isArray(shape) || !Array.isArray(stride))
        this.bad('_rebuild_tensor_v2 with unexpected arguments');
      return new TensorRef(storage, Number(offset), shape.map(Number), stride.map(Number));
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
        case 0x2e: return this.pop(); // STOP
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
        case 0x65: { const items = this.popMark(); const l = this.top(); if (!Array.isArray(l)) this.bad('APPENDS to a non-list'); l.push(...items); break; } // APPENDS
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

/** The state dict inside a checkpoint object: a dict of tensors, possibly wrapped. */
function findStateDict(obj: Value, file: string): Map<Value, Value> {
  const isTensors = (m: Value): m is Map<Value, Value> =>
    m instanceof Map && m.size > 0 && [...m.values()].every((v) => v instanceof TensorRef);
  if (isTensors(obj)) return obj;
  if (obj instanceof Map) {
    for (const key of ['state_dict', 'model', 'module', 'net', 'network']) {
      const inner = obj.get(key);
      if (inner instanceof Map) return findStateDict(inner, file);
    }
    const keys = [...obj.keys()].map(String);
    throw new RepmlpError(
      `pth: ${file} holds no state dict of tensors: its top-level keys are ${keys.length ? keys.join(', ') : '(none)'} ` +
        `(looked for a dict of tensors, or one under 'state_dict', 'model', 'module', 'net' or 'network')`,
    );
  }
  throw new RepmlpError(`pth: ${file} holds ${obj === null ? 'None' : typeof obj} rather than a dict of tensors`);
}

/**
 * Reads the tensors of a PyTorch checkpoint: float32 (float16 and bfloat16 widened) and
 * int64, keyed by name with DataParallel's `module.` prefix removed.
 */
export function readPth(file: string): Map<string, HostTensor> {
  const zip: ZipReader = new ZipReader(file);
  try {
    const pkl = [...zip.entries.keys()].find((n) => /^[^/]+\/data\.pkl$/.test(n));
    if (!pkl) zip.bad("no '<name>/data.pkl' entry");
    const root = pkl.slice(0, -'data.pkl'.length);
    const obj = new Unpickler(zip.data(zip.entries.get(pkl)!), `${file} (${pkl})`).run();
    const sd = findStateDict(obj, file);
    const out = new Map<string, HostTensor>();
    const strip = [...sd.keys()].every((k) => String(k).startsWith('module.'));
    for (const [k, v] of sd) {
      const name = strip ? String(k).slice('module.'.length) : String(k);
      const t = v as TensorRef;
      const { dtype, key, numel } = t.storage;
      const count = t.shape.reduce((a, d) => a * d, 1);
      if (!isContiguous(t.shape, t.stride))
        throw new RepmlpError(`pth: ${file}: tensor '${name}' is not contiguous (shape [${t.shape}], strides [${t.stride}]); save tensor.contiguous()`);
      const entry = zip.entries.get(`${root}data/${key}`);
      if (!entry) zip.bad(`tensor '${name}' refers to storage '${key}', which is not in the archive`);
      const size = ITEM_BYTES[dtype];
      if (entry.size !== numel * size)
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
