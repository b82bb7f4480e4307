// safetensors read and write (https://huggingface.co/docs/safetensors): an 8-byte
// little-endian header length, a JSON header {name: {dtype, shape, data_offsets}}, then the
// raw little-endian data. F32, F16, BF16 and I64 are read (F16/BF16 widened to float32) and
// written (float32 tensors narrowed to F16/BF16 on request, rounding to nearest even). Writes go to a temporary file renamed into place, so a
// crash never leaves a half-written checkpoint.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RepmlpError } from './errors';

export type SafeDType = 'F32' | 'F16' | 'BF16' | 'I64';

export interface HostTensor {
  dtype: 'float32' | 'int64';
  shape: number[];
  data: Float32Array | BigInt64Array;
}

const BYTES: Record<SafeDType, number> = { F32: 4, F16: 2, BF16: 2, I64: 8 };

function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** Parses a safetensors buffer; `file` names the source in errors. */
export function parseSafetensors(buf: Buffer, file = '<buffer>'): Map<string, HostTensor> {
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
    else {
      const h = new Uint16Array(ab);
      data = new Float32Array(count);
      const u = new Uint32Array(1);
      const f = new Float32Array(u.buffer);
      for (let i = 0; i < count; i++) {
        if (dt === 'F16') data[i] = f16ToF32(h[i]);
        else {
          u[0] = h[i] << 16;
          data[i] = f[0];
        }
      }
    }
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

// float32 -> IEEE half, round to nearest even (overflow to infinity, NaN kept).
function f32ToF16(v: number): number {
  const f = new Float32Array([v]);
  const x = new Uint32Array(f.buffer)[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const man = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (man ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const m = man | 0x800000;
    const shift = 14 - e;
    let h = m >>> shift;
    const rem = m & ((1 << shift) - 1), half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (man >>> 13);
  const rem = man & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  return sign | h;
}

// float32 -> bfloat16, round to nearest even.
function f32ToBf16(v: number): number {
  const x = new Uint32Array(new Float32Array([v]).buffer)[0];
  if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) return (x >>> 16) | 0x40;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
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
