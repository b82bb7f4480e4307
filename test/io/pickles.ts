// Hand-built files for the reader tests: zip archives entry by entry (sizes that lie, deflated
// or stored bodies) and pickles opcode by opcode as torch.save writes them (protocol 2), with
// the calls, objects and builds a hostile pickle may make.
import * as zlib from 'node:zlib';

export interface ZipPart {
  name: string;
  /** the entry's bytes (deflated when `deflate`), or its compressed bytes as given in `raw` */
  data?: Buffer;
  raw?: Buffer;
  deflate?: boolean;
  /** the uncompressed size the headers declare (default: the real one) */
  declared?: number;
}

/** A little-endian record of `size` bytes, zero but for the [offset, width, value] fields given. */
export function record(size: number, fields: [offset: number, width: 2 | 4, value: number][]): Buffer {
  const b = Buffer.alloc(size);
  for (const [at, width, v] of fields) {
    if (width === 2) b.writeUInt16LE(v, at);
    else b.writeUInt32LE(v, at);
  }
  return b;
}

/** A zip archive with local headers, a central directory and its end record (CRCs left 0: not read). */
export function zip(parts: ZipPart[]): Buffer {
  const out: Buffer[] = [], dir: Buffer[] = [];
  let offset = 0;
  for (const p of parts) {
    const body = p.raw ?? (p.deflate ? zlib.deflateRawSync(p.data!) : p.data!);
    const size = p.declared ?? p.data?.length ?? 0;
    const name = Buffer.from(p.name);
    const method = p.deflate || p.raw ? 8 : 0;
    const local = record(30, [[0, 4, 0x04034b50], [8, 2, method], [18, 4, body.length], [22, 4, size], [26, 2, name.length]]);
    const central = record(46, [[0, 4, 0x02014b50], [10, 2, method], [20, 4, body.length], [24, 4, size], [28, 2, name.length], [42, 4, offset]]);
    out.push(local, name, body);
    dir.push(central, name);
    offset += 30 + name.length + body.length;
  }
  const d = Buffer.concat(dir);
  const end = record(22, [[0, 4, 0x06054b50], [8, 2, parts.length], [10, 2, parts.length], [12, 4, d.length], [16, 4, offset]]);
  return Buffer.concat([...out, d, end]);
}

// Pickle opcodes as torch.save writes them (protocol 2).
export const op = (...bytes: number[]) => Buffer.from(bytes);
export const [PROTO2, MARK, STOP, EMPTY_DICT, EMPTY_LIST, TUPLE, SETITEMS, SETITEM, APPEND, NONE, NEWFALSE, BINPERSID, REDUCE, DUP, TUPLE2, BINPUT0, BINGET0] = [
  op(0x80, 2), op(0x28), op(0x2e), op(0x7d), op(0x5d), op(0x74), op(0x75), op(0x73), op(0x61), op(0x4e), op(0x89), op(0x51), op(0x52), op(0x32), op(0x86), op(0x71, 0), op(0x68, 0),
];
export function str(s: string): Buffer {
  const b = Buffer.from(s), n = Buffer.alloc(4);
  n.writeUInt32LE(b.length);
  return Buffer.concat([op(0x58), n, b]);
}
export function int(v: number): Buffer {
  const b = Buffer.alloc(5);
  b[0] = 0x4a; // BININT
  b.writeInt32LE(v, 1);
  return b;
}
export const global = (module: string, name: string) => Buffer.from(`c${module}\n${name}\n`, 'latin1');
export const tuple = (items: Buffer[]) => Buffer.concat([MARK, ...items, TUPLE]);

/** torch._utils._rebuild_tensor_v2(storage(key, numel), offset, shape, stride, False, {}). */
export function tensorOps(key: string, numel: number, shape: number[], offset = 0): Buffer {
  const stride = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const storage = Buffer.concat([tuple([str('storage'), global('torch', 'FloatStorage'), str(key), str('cpu'), int(numel)]), BINPERSID]);
  return Buffer.concat([global('torch._utils', '_rebuild_tensor_v2'), tuple([storage, int(offset), tuple(shape.map(int)), tuple(stride.map(int)), NEWFALSE, EMPTY_DICT]), REDUCE]);
}

/** A pickle of {name: tensor, ...}. */
export const stateDict = (entries: [string, Buffer][]) => Buffer.concat([PROTO2, EMPTY_DICT, MARK, ...entries.flatMap(([k, t]) => [str(k), t]), SETITEMS, STOP]);

export const NEWOBJ = op(0x81), BUILD = op(0x62), EMPTY_TUPLE = op(0x29), BINGET1 = op(0x68, 1), BINPUT1 = op(0x71, 1);
/** A dict of (key, pickled value) pairs. */
export const dict = (entries: [string, Buffer][]) => Buffer.concat([EMPTY_DICT, MARK, ...entries.flatMap(([k, v]) => [str(k), v]), SETITEMS]);
/** {'model': {'w': a 2x2 tensor}, <others>}. */
export const checkpoint = (others: [string, Buffer][]) => Buffer.concat([PROTO2, dict([['model', dict([['w', tensorOps('0', 4, [2, 2])]])], ...others]), STOP]);
export const call = (module: string, name: string, args: Buffer[]) => Buffer.concat([global(module, name), tuple(args), REDUCE]);
export const newObject = (module: string, name: string, state?: Buffer) =>
  Buffer.concat([global(module, name), EMPTY_TUPLE, NEWOBJ, ...(state ? [state, BUILD] : [])]);

