// IDX files (the MNIST / Fashion-MNIST format), gzipped or plain.
// Layout: 2 zero bytes, a type byte (0x08 = uint8), the number of dimensions, then one
// big-endian uint32 per dimension and the row-major data. Images are magic 0x00000803
// (N, rows, cols), labels 0x00000801 (N).
//
// Reading is bounded: the header declares the data's size, so a gzipped file is inflated in
// two steps: first only enough to read the header (a few kB of the compressed stream), then
// the whole stream with zlib's maxOutputLength set to the declared size. A declared size
// above IDX_MAX_DATA_BYTES (or the caller's maxBytes) is refused before inflating, and a
// stream that inflates to more than its header declares (a gzip bomb) stops at that size.
import * as zlib from 'node:zlib';
import { RepmlpError } from '../errors';
import { writeFileAtomic } from '../io/atomic';
import { bytesText, readFileBounded } from '../io/read';

export const IDX_IMAGES_MAGIC = 0x00000803;
export const IDX_LABELS_MAGIC = 0x00000801;

/** The largest data part of one IDX file read (1 GiB; Fashion-MNIST's largest is 47 MB). */
export const IDX_MAX_DATA_BYTES = 2 ** 30;

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

export interface IdxReadOptions {
  /** the largest data part accepted, in bytes (default IDX_MAX_DATA_BYTES) */
  maxBytes?: number;
}

interface IdxHeader {
  dims: number[];
  headerBytes: number;
  dataBytes: number;
}

function hex(v: number): string {
  return '0x' + (v >>> 0).toString(16).padStart(8, '0');
}

const isGzip = (b: Uint8Array) => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;

/** The magic and dims at the start of IDX bytes (which may hold only the header). */
function parseIdxHeader(bytes: Uint8Array, magic: number, file: string): IdxHeader {
  const ndim = magic & 0xff;
  const kind = ndim === 3 ? 'images' : 'labels';
  const headerBytes = 4 + 4 * ndim;
  if (bytes.length < 4)
    throw new RepmlpError(`${file}: truncated IDX file: ${bytes.length} bytes, too short for the 4-byte magic`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const got = view.getUint32(0, false);
  if (got !== magic)
    throw new RepmlpError(`${file}: bad magic ${hex(got)}, expected ${hex(magic)} for an IDX ${kind} file`);
  if (bytes.length < headerBytes)
    throw new RepmlpError(`${file}: truncated IDX header: ${bytes.length} bytes, expected ${headerBytes}`);
  const dims: number[] = [];
  for (let i = 0; i < ndim; i++) dims.push(view.getUint32(4 + 4 * i, false));
  return { dims, headerBytes, dataBytes: dims.reduce((a, b) => a * b, 1) }; // < 2^96: exact enough to compare with limits
}

function describeDims(dims: number[]): string {
  return dims.length === 3 ? `${dims[0]} images of ${dims[1]}x${dims[2]}` : `${dims[0]} labels`;
}

function checkLimit(h: IdxHeader, maxBytes: number, file: string): void {
  if (h.dataBytes > maxBytes)
    throw new RepmlpError(`${file}: the IDX header declares ${describeDims(h.dims)} (${bytesText(h.dataBytes)}), more than the ${bytesText(maxBytes)} limit of one IDX file`);
}

/**
 * The first bytes of a gzip stream's content, at least `need` of them when it has that
 * many: inflates growing prefixes of the compressed bytes (a prefix of c bytes yields at
 * most about 1032 * c bytes, so this takes little memory whatever the stream holds).
 */
function gunzipHead(raw: Uint8Array, need: number, file: string): Buffer {
  const lengths = [256, 1024, 4096, 16384];
  let out = Buffer.alloc(0);
  for (const [i, len] of lengths.entries()) {
    const part = raw.subarray(0, Math.min(len, raw.length));
    const last = i === lengths.length - 1 || part.length === raw.length;
    try {
      out = zlib.gunzipSync(part, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    } catch (e) {
      if (last) throw new RepmlpError(`${file}: corrupt gzip data (${(e as Error).message})`);
      continue; // the prefix may end inside a long gzip header (file name, comment)
    }
    if (out.length >= need || last) break;
  }
  return out;
}

/** A whole gzip stream, inflated to at most `declared` bytes. */
function gunzipBounded(raw: Uint8Array, declared: number, file: string): Buffer {
  try {
    return zlib.gunzipSync(raw, { maxOutputLength: Math.max(1, declared) });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE')
      throw new RepmlpError(`${file}: the gzip stream inflates to more than the ${bytesText(declared)} its IDX header declares (refused at that size)`);
    throw new RepmlpError(`${file}: corrupt gzip data (${(e as Error).message})`);
  }
}

/** The IDX bytes of a file (gunzipped when gzipped), bounded by the header's declared size. */
function readIdxBytes(file: string, magic: number, opts: IdxReadOptions): Uint8Array {
  const maxBytes = opts.maxBytes ?? IDX_MAX_DATA_BYTES;
  const headerBytes = 4 + 4 * (magic & 0xff);
  const raw = readFileBounded(file, { maxBytes: maxBytes + headerBytes });
  if (!isGzip(raw)) return raw;
  const h = parseIdxHeader(gunzipHead(raw, headerBytes, file), magic, file);
  checkLimit(h, maxBytes, file);
  return gunzipBounded(raw, h.headerBytes + h.dataBytes, file);
}

/** The file's bytes, gunzipped when they start with the gzip magic 1f 8b; at most `maxBytes` either way. */
export function readMaybeGzip(file: string, maxBytes = IDX_MAX_DATA_BYTES): Uint8Array {
  const raw = readFileBounded(file, { maxBytes });
  return isGzip(raw) ? gunzipBounded(raw, maxBytes, file) : raw;
}

/** Parses IDX bytes with the expected magic (0x00000803 or 0x00000801). */
export function parseIdx(bytes: Uint8Array, magic: number, file = '<buffer>'): IdxArray {
  const { dims, headerBytes, dataBytes } = parseIdxHeader(bytes, magic, file);
  const have = bytes.length - headerBytes;
  if (have !== dataBytes)
    throw new RepmlpError(`${file}: header says ${describeDims(dims)} (${dataBytes} bytes) but the data has ${have} bytes`);
  return { dims, data: bytes.subarray(headerBytes) };
}

/** Reads an IDX image file: (N, rows, cols) uint8. */
export function readIdxImages(file: string, opts: IdxReadOptions = {}): { images: Uint8Array; n: number; h: number; w: number } {
  const { dims, data } = parseIdx(readIdxBytes(file, IDX_IMAGES_MAGIC, opts), IDX_IMAGES_MAGIC, file);
  return { images: data, n: dims[0], h: dims[1], w: dims[2] };
}

/** Reads an IDX label file: (N) uint8. */
export function readIdxLabels(file: string, opts: IdxReadOptions = {}): Uint8Array {
  return parseIdx(readIdxBytes(file, IDX_LABELS_MAGIC, opts), IDX_LABELS_MAGIC, file).data;
}

/** IDX bytes for uint8 data of shape dims (1-d labels or 3-d images). */
export function encodeIdx(dims: readonly number[], data: Uint8Array): Uint8Array {
  const n = dims.reduce((a, b) => a * b, 1);
  if (n !== data.length) throw new RepmlpError(`encodeIdx: expected ${n} bytes for data but received ${data.length}`);
  const out = new Uint8Array(4 + 4 * dims.length + n);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0x0800 | dims.length, false);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

/** Writes an IDX file atomically (lib/io/atomic.ts), gzipped when gzip is true. */
export function writeIdx(file: string, dims: readonly number[], data: Uint8Array, gzip = file.endsWith('.gz')): void {
  const bytes = encodeIdx(dims, data);
  writeFileAtomic(file, gzip ? zlib.gzipSync(bytes, { level: 9 }) : bytes, 'writeIdx');
}
