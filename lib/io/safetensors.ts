// safetensors read and write (https://huggingface.co/docs/safetensors): an 8-byte
// little-endian header length, a JSON header {name: {dtype, shape, data_offsets}}, then the
// raw little-endian data. F32, F16, BF16 and I64 are read (F16/BF16 widened to float32) and
// written (float32 tensors narrowed to F16/BF16 on request, rounding to nearest even).
// Writes go through writeFileAtomic (lib/io/atomic.ts), so a crash or a full disk never
// leaves a half-written checkpoint.
//
// The reader validates the header as the reference implementation (the Rust safetensors
// crate, SafeTensors::read_metadata and Metadata::validate) does before touching any data:
// the header is at most 100 MB of UTF-8 JSON holding an object; `__metadata__`, when
// present, maps strings to strings; every tensor has a known dtype, a shape of non-negative
// integers and data_offsets [begin, end] of integers with end - begin = numel * dtype size;
// sorted by offset the tensors tile the data area exactly, each beginning where the
// previous one ends, the first at 0 and the last ending at the end of the file (no overlap,
// no hole, nothing after). Every error names the file and, where one is at fault, the tensor.
import { RepmlpError, describe } from '../errors';
import { f32ToBf16, f32ToF16, widenHalf } from './half';
import { readFileBounded } from './read';
import { writeFileAtomic } from './atomic';

export type SafeDType = 'F32' | 'F16' | 'BF16' | 'I64';

export interface HostTensor {
  dtype: 'float32' | 'int64';
  shape: number[];
  data: Float32Array | BigInt64Array;
}

const BYTES: Record<SafeDType, number> = { F32: 4, F16: 2, BF16: 2, I64: 8 };

/** Every dtype of the format (the crate's Dtype), read here or not. */
const FORMAT_DTYPES = new Set(['BOOL', 'U8', 'I8', 'F8_E5M2', 'F8_E4M3', 'I16', 'U16', 'F16', 'BF16', 'I32', 'U32', 'F32', 'F64', 'I64', 'U64']);

/** The reference implementation's limit on the JSON header. */
export const SAFETENSORS_MAX_HEADER_BYTES = 100_000_000;

/** One tensor's entry in a validated header; begin and end are offsets into the data area. */
export interface SafetensorsEntry {
  name: string;
  dtype: SafeDType;
  shape: number[];
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  /** the tensors in the header's order */
  entries: SafetensorsEntry[];
  metadata: Record<string, string>;
  /** where the data area starts in the file (8 + header length) */
  dataStart: number;
}

const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** The JSON header text: valid UTF-8 (as the reference requires) parsed as JSON. */
function parseHeaderJson(buf: Buffer, n: number, bad: (what: string) => never): unknown {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(8, 8 + n));
  } catch {
    return bad('its header is not valid UTF-8');
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    return bad(`its header is not JSON (${(e as Error).message})`);
  }
}

function checkMetadata(v: unknown, bad: (what: string) => never): Record<string, string> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return bad(`expected an object of strings for __metadata__ but received ${describe(v)}`);
  for (const [k, x] of Object.entries(v))
    if (typeof x !== 'string') bad(`expected a string for __metadata__ entry '${k}' but received ${typeof x === 'object' ? describe(x) : `${typeof x} ${String(x)}`}`);
  return v as Record<string, string>;
}

/** One tensor's header entry, checked on its own (the tiling is checked afterwards). */
function checkEntry(name: string, info: unknown, bad: (what: string) => never): SafetensorsEntry {
  const where = `tensor '${name}'`;
  if (typeof info !== 'object' || info === null || Array.isArray(info))
    bad(`expected an object {dtype, shape, data_offsets} for ${where} but received ${describe(info)}`);
  const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
  if (typeof dtype !== 'string' || !FORMAT_DTYPES.has(dtype)) bad(`${where} has an unknown dtype ${describe(dtype)}`);
  if (!((dtype as string) in BYTES)) bad(`${where} has dtype ${dtype as string}; supported: F32, F16, BF16, I64`);
  if (!Array.isArray(shape) || !shape.every(isIndex))
    bad(`expected an array of non-negative integers for the shape of ${where} but received ${JSON.stringify(shape) ?? 'none'}`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex) || offsets[0] > offsets[1])
    bad(`expected data_offsets [begin, end] of integers with 0 <= begin <= end for ${where} but received ${JSON.stringify(offsets) ?? 'none'}`);
  let numel = 1;
  for (const d of shape as number[]) {
    numel *= d;
    if (!Number.isSafeInteger(numel)) bad(`the shape [${shape as number[]}] of ${where} has more elements than can be counted`);
  }
  const [begin, end] = offsets as number[];
  if (end - begin !== numel * BYTES[dtype as SafeDType])
    bad(`${where} spans bytes ${begin}..${end}, which does not fit shape [${shape as number[]}] of ${dtype as string} (${numel * BYTES[dtype as SafeDType]} bytes)`);
  return { name, dtype: dtype as SafeDType, shape: [...(shape as number[])], begin, end };
}

/** Checks that the entries tile [0, dataLength) exactly, in offset order. */
function checkTiling(entries: SafetensorsEntry[], dataLength: number, bad: (what: string) => never): void {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0, prev: SafetensorsEntry | null = null;
  for (const e of sorted) {
    if (e.begin < at)
      bad(`tensor '${e.name}' (bytes ${e.begin}..${e.end}) overlaps tensor '${prev!.name}' (bytes ${prev!.begin}..${prev!.end})`);
    if (e.begin > at)
      bad(`bytes ${at}..${e.begin} of the data area belong to no tensor (${prev ? `between '${prev.name}' and '${e.name}'` : `before '${e.name}'`}); the tensors must cover it without holes`);
    if (e.end > dataLength)
      bad(`tensor '${e.name}' spans bytes ${e.begin}..${e.end}, past the end of the ${dataLength}-byte data area (a truncated file?)`);
    at = e.end;
    prev = e;
  }
  if (at !== dataLength) bad(`${dataLength - at} bytes follow the last tensor's data (the data area is ${dataLength} bytes, the tensors cover ${at})`);
}

/** Parses and validates the header of a safetensors buffer; `file` names the source in errors. */
export function parseSafetensorsHeader(bytes: Uint8Array, file = '<buffer>'): SafetensorsHeader {
  const buf = asBuffer(bytes);
  const bad = (what: string): never => {
    throw new RepmlpError(`safetensors: ${file} is not a valid safetensors file: ${what}`);
  };
  if (buf.length < 8) bad(`it is ${buf.length} bytes long, shorter than the 8-byte header length`);
  const n64 = buf.readBigUInt64LE(0);
  if (n64 > BigInt(SAFETENSORS_MAX_HEADER_BYTES)) bad(`its header claims ${n64} bytes, more than the ${SAFETENSORS_MAX_HEADER_BYTES} a safetensors header may have`);
  const n = Number(n64);
  if (n > buf.length - 8) bad(`its header claims ${n} bytes but only ${buf.length - 8} follow`);
  const header = parseHeaderJson(buf, n, bad);
  if (typeof header !== 'object' || header === null || Array.isArray(header)) bad(`expected a JSON object for its header but received ${describe(header)}`);
  let metadata: Record<string, string> = {};
  const entries: SafetensorsEntry[] = [];
  for (const [name, info] of Object.entries(header as object)) {
    if (name === '__metadata__') metadata = checkMetadata(info, bad);
    else entries.push(checkEntry(name, info, bad));
  }
  checkTiling(entries, buf.length - 8 - n, bad);
  return { entries, metadata, dataStart: 8 + n };
}

/** The `__metadata__` of a safetensors buffer ({} when it has none), the header validated. */
export function parseSafetensorsMetadata(bytes: Uint8Array, file = '<buffer>'): Record<string, string> {
  return parseSafetensorsHeader(bytes, file).metadata;
}

/** Parses a safetensors buffer (a Buffer or any Uint8Array); `file` names the source in errors. */
export function parseSafetensors(bytes: Uint8Array, file = '<buffer>'): Map<string, HostTensor> {
  const buf = asBuffer(bytes);
  const { entries, dataStart } = parseSafetensorsHeader(buf, file);
  const out = new Map<string, HostTensor>();
  for (const e of entries) {
    const raw = buf.subarray(dataStart + e.begin, dataStart + e.end);
    // Copy to an aligned buffer before viewing as typed arrays.
    const ab = new ArrayBuffer(raw.length);
    new Uint8Array(ab).set(raw);
    let data: Float32Array | BigInt64Array;
    if (e.dtype === 'F32') data = new Float32Array(ab);
    else if (e.dtype === 'I64') data = new BigInt64Array(ab);
    else data = widenHalf(new Uint16Array(ab), e.dtype);
    out.set(e.name, { dtype: e.dtype === 'I64' ? 'int64' : 'float32', shape: e.shape, data });
  }
  return out;
}

export function readSafetensors(file: string): Map<string, HostTensor> {
  return parseSafetensors(readFileBounded(file, { op: 'safetensors' }), file);
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

/** Writes atomically (atomic.ts): the file holds its previous content or all of the new one. */
export function writeSafetensors(file: string, tensors: Map<string, HostTensor>, opts: WriteOptions = {}): void {
  writeFileAtomic(file, serializeSafetensors(tensors, opts), 'safetensors');
}

/** A Buffer over the same memory (no copy), so the public signatures need no Node.js types. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
