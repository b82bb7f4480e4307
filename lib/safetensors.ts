// safetensors read and write (https://huggingface.co/docs/safetensors): an 8-byte
// little-endian header length, a JSON header {name: {dtype, shape, data_offsets}}, then the
// raw little-endian data. F32, F16, BF16 and I64 are read (F16/BF16 widened to float32) and
// written (float32 tensors narrowed to F16/BF16 on request, rounding to nearest even). Writes go to a temporary file renamed into place, so a
// crash never leaves a half-written checkpoint.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RepmlpError } from './errors';
import { f32ToBf16, f32ToF16, widenHalf } from './half';

export type SafeDType = 'F32' | 'F16' | 'BF16' | 'I64';

export interface HostTensor {
  dtype: 'float32' | 'int64';
  shape: number[];
  data: Float32Array | BigInt64Array;
}

const BYTES: Record<SafeDType, number> = { F32: 4, F16: 2, BF16: 2, I64: 8 };


/** Parses a safetensors buffer (a Buffer or any Uint8Array); `file` names the source in errors. */
export function parseSafetensors(bytes: Uint8Array, file = '<buffer>'): Map<string, HostTensor> {
  const buf = asBuffer(bytes);
  const bad = (what: string): never => {
    throw new RepmlpError(`safetensors: ${file} is not a valid safetensors file: ${what}`);
  };
  if (buf.length < 8) bad(`it is ${buf.length} bytes long, shorter than the 8-byte header length`);
  const n = Number(buf.readBigUInt64LE(0));
  if (n > buf.length - 8) bad(`its header claims ${n} bytes but only ${buf.length - 8} follow`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  } catch (e) {
    return bad(`its header is not JSON (${(e as Error).message})`);
  }
  const base = 8 + n;
  const out = new Map<string, HostTensor>();
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const dt = info.dtype as SafeDType;
    if (!(dt in BYTES)) bad(`tensor '${name}' has dtype ${info.dtype}; supported: F32, F16, BF16, I64`);
    const [b, e] = info.data_offsets;
    const count = info.shape.reduce((a, d) => a * d, 1);
    if (e - b !== count * BYTES[dt] || base + e > buf.length)
      bad(`tensor '${name}' spans bytes ${b}..${e}, which does not fit shape [${info.shape}] of ${dt} in a ${buf.length}-byte file`);
    const bytes = buf.subarray(base + b, base + e);
    // Copy to an aligned buffer before viewing as typed arrays.
    const ab = new ArrayBuffer(bytes.length);
    new Uint8Array(ab).set(bytes);
    let data: Float32Array | BigInt64Array;
    if (dt === 'F32') data = new Float32Array(ab);
    else if (dt === 'I64') data = new BigInt64Array(ab);
    else data = widenHalf(new Uint16Array(ab), dt);
    out.set(name, { dtype: dt === 'I64' ? 'int64' : 'float32', shape: [...info.shape], data });
  }
  return out;
}

export function readSafetensors(file: string): Map<string, HostTensor> {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw new RepmlpError(`safetensors: could not read ${file}: ${(e as Error).message}`);
  }
  return parseSafetensors(buf, file);
}


export interface WriteOptions {
  /** Store float32 tensors as this type (default F32). int64 tensors stay I64. */
  floatType?: 'F32' | 'F16' | 'BF16';
  metadata?: Record<string, string>;
}

function encode(t: HostTensor, floatType: 'F32' | 'F16' | 'BF16'): { dtype: SafeDType; bytes: Uint8Array } {
  if (t.dtype === 'int64' || floatType === 'F32')
    return { dtype: t.dtype === 'int64' ? 'I64' : 'F32', bytes: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength) };
  const src = t.data as Float32Array;
  const out = new Uint16Array(src.length);
  const conv = floatType === 'F16' ? f32ToF16 : f32ToBf16;
  for (let i = 0; i < src.length; i++) out[i] = conv(src[i]);
  return { dtype: floatType, bytes: new Uint8Array(out.buffer) };
}

/** Serialises tensors (keys sorted, as the reference writer does). */
export function serializeSafetensors(tensors: Map<string, HostTensor>, opts: WriteOptions = {}): Uint8Array {
  const metadata = opts.metadata;
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  const names = [...tensors.keys()].sort();
  const encoded = names.map((name) => encode(tensors.get(name)!, opts.floatType ?? 'F32'));
  let off = 0;
  names.forEach((name, i) => {
    const { dtype, bytes } = encoded[i];
    header[name] = { dtype, shape: tensors.get(name)!.shape, data_offsets: [off, off + bytes.byteLength] };
    off += bytes.byteLength;
  });
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8); // 8-byte aligned data
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  const parts: Uint8Array[] = [head, Buffer.from(json, 'utf8')];
  for (const { bytes } of encoded) parts.push(bytes);
  return Buffer.concat(parts);
}

/** Writes atomically: a temporary file in the same folder, fsync, then rename. */
export function writeSafetensors(file: string, tensors: Map<string, HostTensor>, opts: WriteOptions = {}): void {
  writeFileAtomic(file, serializeSafetensors(tensors, opts));
}

export function writeFileAtomic(file: string, data: Uint8Array | string): void {
  const dir = path.dirname(path.resolve(file));
  fs.mkdirSync(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  const fd = fs.openSync(tmp, 'w');
  try {
    if (typeof data === 'string') fs.writeSync(fd, data);
    else fs.writeSync(fd, data);
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.closeSync(fd);
  fs.renameSync(tmp, file);
}

/** A Buffer over the same memory (no copy), so the public signatures need no Node.js types. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
