// IDX files (the MNIST / Fashion-MNIST format), gzipped or plain.
// Layout: 2 zero bytes, a type byte (0x08 = uint8), the number of dimensions, then one
// big-endian uint32 per dimension and the row-major data. Images are magic 0x00000803
// (N, rows, cols), labels 0x00000801 (N).
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { RepmlpError } from '../errors';

export const IDX_IMAGES_MAGIC = 0x00000803;
export const IDX_LABELS_MAGIC = 0x00000801;

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

function hex(v: number): string {
  return '0x' + (v >>> 0).toString(16).padStart(8, '0');
}

/** The file's bytes, gunzipped when they start with the gzip magic 1f 8b. */
export function readMaybeGzip(file: string): Uint8Array {
  let raw: Buffer;
  try {
    raw = fs.readFileSync(file);
  } catch (e) {
    throw new RepmlpError(`${file}: cannot read the file (${(e as Error).message})`);
  }
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      return zlib.gunzipSync(raw);
    } catch (e) {
      throw new RepmlpError(`${file}: corrupt gzip data (${(e as Error).message})`);
    }
  }
  return raw;
}

/** Parses IDX bytes with the expected magic (0x00000803 or 0x00000801). */
export function parseIdx(bytes: Uint8Array, magic: number, file = '<buffer>'): IdxArray {
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
  const expected = dims.reduce((a, b) => a * b, 1);
  const have = bytes.length - headerBytes;
  if (have !== expected) {
    const what = ndim === 3 ? `${dims[0]} images of ${dims[1]}x${dims[2]}` : `${dims[0]} labels`;
    throw new RepmlpError(`${file}: header says ${what} (${expected} bytes) but the data has ${have} bytes`);
  }
  return { dims, data: bytes.subarray(headerBytes) };
}

/** Reads an IDX image file: (N, rows, cols) uint8. */
export function readIdxImages(file: string): { images: Uint8Array; n: number; h: number; w: number } {
  const { dims, data } = parseIdx(readMaybeGzip(file), IDX_IMAGES_MAGIC, file);
  return { images: data, n: dims[0], h: dims[1], w: dims[2] };
}

/** Reads an IDX label file: (N) uint8. */
export function readIdxLabels(file: string): Uint8Array {
  return parseIdx(readMaybeGzip(file), IDX_LABELS_MAGIC, file).data;
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

/** Writes an IDX file, gzipped when gzip is true. */
export function writeIdx(file: string, dims: readonly number[], data: Uint8Array, gzip = file.endsWith('.gz')): void {
  const bytes = encodeIdx(dims, data);
  fs.writeFileSync(file, gzip ? zlib.gzipSync(bytes, { level: 9 }) : bytes);
}
