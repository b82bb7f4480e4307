// Zip archives as torch.save writes them: every entry stored (no compression), its data
// starting at a multiple of 64 bytes (the local header's extra field 'FB' padded with 'Z',
// as PyTorch's writer pads it), ZIP64 records where a size or an offset needs them. The
// archive is returned as pieces (headers and the entries' own bytes), so that a large
// checkpoint is written without being concatenated.
import * as zlib from 'node:zlib';

export interface ZipInput {
  name: string;
  data: Uint8Array;
}

/** The alignment of every entry's data, in bytes. */
export const ZIP_ALIGNMENT = 64;

const U32 = 0xffffffff;
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 of the zip format (zlib's where this Node.js has it). */
export function crc32(data: Uint8Array): number {
  const native = (zlib as { crc32?: (d: Uint8Array) => number }).crc32;
  if (native) return native(data) >>> 0;
  let c = U32;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ U32) >>> 0;
}

/** A ZIP64 extra field (id 1) holding the given 64-bit values. */
function zip64Extra(values: number[]): Buffer {
  const b = Buffer.alloc(4 + 8 * values.length);
  b.writeUInt16LE(1, 0);
  b.writeUInt16LE(8 * values.length, 2);
  values.forEach((v, i) => b.writeBigUInt64LE(BigInt(v), 4 + 8 * i));
  return b;
}

/** The 'FB' extra field of `n` >= 4 bytes ('Z' padding after its 4-byte header). */
function paddingExtra(n: number): Buffer {
  const b = Buffer.alloc(n, 'Z');
  b.writeUInt16LE(0x4246, 0); // 'FB'
  b.writeUInt16LE(n - 4, 2);
  return b;
}

interface Written {
  name: Buffer;
  crc: number;
  size: number;
  offset: number;
}

/** The local header of an entry at `offset`, padded so that its data starts aligned. */
function localHeader(w: Written): Buffer {
  const big = w.size >= U32;
  const z64 = big ? zip64Extra([w.size, w.size]) : Buffer.alloc(0);
  const before = w.offset + 30 + w.name.length + z64.length;
  const pad = paddingExtra(4 + ((ZIP_ALIGNMENT - ((before + 4) % ZIP_ALIGNMENT)) % ZIP_ALIGNMENT));
  const h = Buffer.alloc(30);
  h.writeUInt32LE(0x04034b50, 0);
  h.writeUInt16LE(big ? 45 : 20, 4); // version needed
  h.writeUInt16LE(0x0800, 6); // UTF-8 names
  h.writeUInt32LE(w.crc, 14);
  h.writeUInt32LE(big ? U32 : w.size, 18);
  h.writeUInt32LE(big ? U32 : w.size, 22);
  h.writeUInt16LE(w.name.length, 26);
  h.writeUInt16LE(z64.length + pad.length, 28);
  return Buffer.concat([h, w.name, z64, pad]);
}

function centralEntry(w: Written): Buffer {
  const wide = [w.size >= U32 ? [w.size, w.size] : [], w.offset >= U32 ? [w.offset] : []].flat();
  const z64 = wide.length ? zip64Extra(wide) : Buffer.alloc(0);
  const h = Buffer.alloc(46);
  h.writeUInt32LE(0x02014b50, 0);
  h.writeUInt16LE(wide.length ? 45 : 20, 4); // version made by
  h.writeUInt16LE(wide.length ? 45 : 20, 6); // version needed
  h.writeUInt16LE(0x0800, 8);
  h.writeUInt32LE(w.crc, 16);
  h.writeUInt32LE(Math.min(w.size, U32), 20);
  h.writeUInt32LE(Math.min(w.size, U32), 24);
  h.writeUInt16LE(w.name.length, 28);
  h.writeUInt16LE(z64.length, 30);
  h.writeUInt32LE(Math.min(w.offset, U32), 42);
  return Buffer.concat([h, w.name, z64]);
}

/** The end records: ZIP64 end record and locator (when anything needs them), then the classic one. */
function directoryEnd(count: number, dirSize: number, dirOffset: number): Buffer {
  const wide = count >= 0xffff || dirSize >= U32 || dirOffset >= U32;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Math.min(count, 0xffff), 8);
  end.writeUInt16LE(Math.min(count, 0xffff), 10);
  end.writeUInt32LE(Math.min(dirSize, U32), 12);
  end.writeUInt32LE(Math.min(dirOffset, U32), 16);
  if (!wide) return end;
  const rec = Buffer.alloc(56 + 20);
  rec.writeUInt32LE(0x06064b50, 0);
  rec.writeBigUInt64LE(44n, 4); // size of the rest of the record
  rec.writeUInt16LE(45, 12);
  rec.writeUInt16LE(45, 14);
  rec.writeBigUInt64LE(BigInt(count), 24);
  rec.writeBigUInt64LE(BigInt(count), 32);
  rec.writeBigUInt64LE(BigInt(dirSize), 40);
  rec.writeBigUInt64LE(BigInt(dirOffset), 48);
  rec.writeUInt32LE(0x07064b50, 56); // locator
  rec.writeBigUInt64LE(BigInt(dirOffset + dirSize), 64);
  rec.writeUInt32LE(1, 72); // disks
  return Buffer.concat([rec, end]);
}

/** A stored zip archive of `entries`, in order, as pieces to write one after the other. */
export function storedZip(entries: readonly ZipInput[]): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  const written: Written[] = [];
  let offset = 0;
  for (const e of entries) {
    const w = { name: Buffer.from(e.name, 'utf8'), crc: crc32(e.data), size: e.data.length, offset };
    const header = localHeader(w);
    pieces.push(header, e.data);
    written.push(w);
    offset += header.length + e.data.length;
  }
  const dir = Buffer.concat(written.map(centralEntry));
  pieces.push(dir, directoryEnd(written.length, dir.length, offset));
  return pieces;
}
