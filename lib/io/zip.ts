// The zip archives of torch.save (PyTorch 1.6 and later), read through the central directory
// with positioned reads, one entry at a time, so that a checkpoint of hundreds of MB is
// never held as one string. torch writes its entries stored; deflated entries are inflated
// too, bounded: an entry may declare at most MAX_DEFLATE_RATIO times its compressed size
// (what deflate can reach) and is inflated with zlib's maxOutputLength set to its declared
// size, so a lying header cannot expand past it. ZIP64 records are read.
import * as zlib from 'node:zlib';
import { RepmlpError } from '../errors';
import { PositionedFile } from './positioned';
import { bytesText } from './read';

/** Deflate's largest expansion: about 1032 output bytes per input byte (258-byte matches in 2 bits). */
export const MAX_DEFLATE_RATIO = 1032;

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

/** The end-of-central-directory values: entry count, directory size and offset. */
interface DirectoryEnd {
  count: number;
  dirSize: number;
  dirOffset: number;
}

export class ZipReader {
  readonly entries = new Map<string, ZipEntry>();
  private readonly f: PositionedFile;

  constructor(private readonly file: string) {
    this.f = new PositionedFile(file, 'pth', (what) => this.bad(what));
    try {
      this.readDirectory(this.directoryEnd());
    } catch (e) {
      this.f.close();
      throw e;
    }
  }

  bad(what: string): never {
    throw new RepmlpError(`pth: ${this.file} is not a PyTorch zip checkpoint: ${what}`);
  }

  private directoryEnd(): DirectoryEnd {
    const size = this.f.size;
    if (size < 22) this.bad(`it is ${size} bytes long, too short for a zip archive`);
    // The end-of-central-directory record is in the last 22 + 65535 (comment) bytes.
    const tailLen = Math.min(size, 22 + 65535);
    const tail = this.f.read(size - tailLen, tailLen);
    let eocd = -1;
    for (let i = tailLen - 22; i >= 0 && eocd < 0; i--) if (tail.readUInt32LE(i) === 0x06054b50) eocd = i;
    if (eocd < 0) this.bad('no end-of-central-directory record (not a zip file)');
    const end = { count: tail.readUInt16LE(eocd + 10), dirSize: tail.readUInt32LE(eocd + 12), dirOffset: tail.readUInt32LE(eocd + 16) };
    // ZIP64: the locator precedes the end record.
    const saturated = end.count === 0xffff || end.dirOffset === 0xffffffff || end.dirSize === 0xffffffff;
    if (!saturated || eocd < 20 || tail.readUInt32LE(eocd - 20) !== 0x07064b50) return end;
    const rec = this.f.read(Number(tail.readBigUInt64LE(eocd - 20 + 8)), 56);
    if (rec.readUInt32LE(0) !== 0x06064b50) this.bad('a broken ZIP64 end record');
    return { count: Number(rec.readBigUInt64LE(32)), dirSize: Number(rec.readBigUInt64LE(40)), dirOffset: Number(rec.readBigUInt64LE(48)) };
  }

  private readDirectory({ count, dirSize, dirOffset }: DirectoryEnd): void {
    if (dirOffset + dirSize > this.f.size) this.bad(`its central directory (${dirSize} bytes at ${dirOffset}) runs past the end`);
    const dir = this.f.read(dirOffset, dirSize);
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > dir.length || dir.readUInt32LE(p) !== 0x02014b50) this.bad(`central directory entry ${i} is broken`);
      const nameLen = dir.readUInt16LE(p + 28), extraLen = dir.readUInt16LE(p + 30), commentLen = dir.readUInt16LE(p + 32);
      const entry: ZipEntry = {
        name: dir.subarray(p + 46, p + 46 + nameLen).toString('utf8'),
        method: dir.readUInt16LE(p + 10),
        compressedSize: dir.readUInt32LE(p + 20),
        size: dir.readUInt32LE(p + 24),
        localOffset: dir.readUInt32LE(p + 42),
      };
      const extra = p + 46 + nameLen;
      readZip64Extra(dir, extra, extra + extraLen, entry);
      this.entries.set(entry.name, entry);
      p = extra + extraLen + commentLen;
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
    const local = this.f.read(entry.localOffset, 30);
    if (local.readUInt32LE(0) !== 0x04034b50) this.bad(`the local header of '${entry.name}' is broken`);
    const start = entry.localOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
    if (start + entry.compressedSize > this.f.size) this.bad(`entry '${entry.name}' runs past the end of the file`);
    if (entry.method === 0) {
      if (entry.size !== entry.compressedSize)
        this.bad(`stored entry '${entry.name}' declares ${entry.size} bytes but occupies ${entry.compressedSize}`);
      return this.f.read(start + from, len); // only the bytes asked for
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
      out = zlib.inflateRawSync(this.f.read(start, entry.compressedSize), { maxOutputLength: Math.max(1, entry.size) });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE')
        this.bad(`entry '${entry.name}' inflates to more than the ${bytesText(entry.size)} it declares (refused at that size)`);
      this.bad(`entry '${entry.name}' holds corrupt deflate data (${(e as Error).message})`);
    }
    if (out.length !== entry.size) this.bad(`entry '${entry.name}' inflates to ${out.length} bytes but declares ${entry.size}`);
    return out;
  }

  close(): void {
    this.f.close();
  }
}

/** ZIP64 extra field (id 1): the 64-bit values of the fields saturated at 0xffffffff, in order. */
function readZip64Extra(dir: Buffer, from: number, end: number, entry: ZipEntry): void {
  for (let e = from; e + 4 <= end; e += 4 + dir.readUInt16LE(e + 2)) {
    if (dir.readUInt16LE(e) !== 0x0001) continue;
    let q = e + 4;
    const next = () => {
      const v = Number(dir.readBigUInt64LE(q));
      q += 8;
      return v;
    };
    if (entry.size === 0xffffffff) entry.size = next();
    if (entry.compressedSize === 0xffffffff) entry.compressedSize = next();
    if (entry.localOffset === 0xffffffff) entry.localOffset = next();
  }
}
