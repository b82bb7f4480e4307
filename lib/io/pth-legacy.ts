// The legacy format of torch.save (PyTorch before 1.6, and `_use_new_zipfile_serialization=False`
// since): five pickles one after the other (the magic number 0x1950a86a20f9469cfc6c, the
// protocol version 1001, the system info {protocol_version, little_endian, type_sizes}, the
// object itself with storages as persistent ids, and the sorted list of storage keys), then
// each storage in that list's order as an int64 element count and its raw little-endian
// elements. The pickles are read from the start of the file, bounded by the caller's limit;
// the storages are only located here and read later by position.
import { RepmlpError } from '../errors';
import { PickleTruncated, storageOfPid, Unpickler } from './pickle';
import { ITEM_BYTES, StorageRef } from './pickle-values';
import { PositionedFile } from './positioned';
import { bytesText } from './read';
import type { StorageSource } from './pth-tensor';

const MAGIC = 0x1950a86a20f9469cfc6cn;
const PROTOCOL_VERSION = 1001;
/** PROTO 2, LONG1 of 10 bytes: the magic number as torch.save pickles it. */
const MAGIC_PREFIX = Buffer.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]);

/** True when a file's first bytes are the pickled magic number of the legacy format. */
export function isLegacyPth(head: Uint8Array): boolean {
  return head.length >= MAGIC_PREFIX.length && Buffer.from(head.buffer, head.byteOffset, MAGIC_PREFIX.length).equals(MAGIC_PREFIX);
}

export interface LegacyPth {
  /** the saved object */
  root: unknown;
  /** its storages, located */
  source: StorageSource;
  close(): void;
}

/** Where each storage's elements are in the file. */
type Layout = Map<string, { at: number; bytes: number }>;

class LegacyReader {
  readonly f: PositionedFile;
  readonly storages = new Map<string, StorageRef>();

  constructor(readonly file: string) {
    this.f = new PositionedFile(file, 'pth', (what) => this.bad(what));
  }

  bad(what: string): never {
    throw new RepmlpError(`pth: ${this.file} is not a valid legacy PyTorch checkpoint: ${what}`);
  }

  /** The five pickles from the file's first bytes (more of them read while a pickle runs past what was read). */
  pickles(maxBytes: number): { values: unknown[]; end: number } {
    const most = Math.min(this.f.size, maxBytes);
    for (let len = Math.min(most, 1 << 20); ; len = Math.min(most, 4 * len)) {
      try {
        return this.parse(this.f.read(0, len));
      } catch (e) {
        if (!(e instanceof PickleTruncated) || len >= most) throw this.limited(e, len, maxBytes);
      }
    }
  }

  /** A pickle cut off by the limit (not by the file's end) says so. */
  private limited(e: unknown, len: number, maxBytes: number): unknown {
    if (!(e instanceof PickleTruncated) || len < maxBytes) return e;
    return new RepmlpError(`pth: ${this.file}: its pickles run past the first ${bytesText(maxBytes)}, the limit of a state dict's pickle`);
  }

  private parse(buf: Buffer): { values: unknown[]; end: number } {
    const values: unknown[] = [];
    let end = 0;
    for (let i = 0; i < 5; i++) {
      const u = new Unpickler(buf, this.file, (pid, up) => this.persistent(pid, up), end);
      ({ value: values[i], end } = u.run());
    }
    return { values, end };
  }

  private persistent(pid: unknown, u: Unpickler): unknown {
    const s = storageOfPid(pid, u);
    if (s instanceof StorageRef) {
      const seen = this.storages.get(s.key);
      if (seen && (seen.dtype !== s.dtype || seen.numel !== s.numel)) u.bad(`storage '${s.key}' is declared twice, differently`);
      this.storages.set(s.key, s);
    }
    return s;
  }

  /** Checks the header pickles; returns the storage keys in the file's order. */
  check([magic, protocol, info, , keys]: unknown[]): string[] {
    if (magic !== MAGIC) this.bad('its first pickle is not the magic number 0x1950a86a20f9469cfc6c');
    if (protocol !== PROTOCOL_VERSION) this.bad(`expected protocol version ${PROTOCOL_VERSION} but received ${String(protocol)}`);
    if (!(info instanceof Map) || info.get('little_endian') !== true) this.bad('its system info does not say little-endian (big-endian files are not read)');
    if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string')) this.bad('its fifth pickle is not the list of storage keys');
    return keys as string[];
  }

  /** Each storage's place: an int64 element count, then its elements, in key order from `start`. */
  layout(keys: string[], start: number): Layout {
    const out: Layout = new Map();
    let at = start;
    for (const key of keys) {
      const s = this.storages.get(key);
      if (!s) this.bad(`storage '${key}' is listed but no tensor refers to it`);
      const count = Number(this.f.read(at, 8).readBigInt64LE(0));
      if (count !== s.numel) this.bad(`storage '${key}' holds ${count} elements, not the ${s.numel} the pickle says`);
      const bytes = count * ITEM_BYTES[s.dtype];
      if (at + 8 + bytes > this.f.size) this.bad(`storage '${key}' (${bytes} bytes at ${at + 8}) runs past the end of the file`);
      out.set(key, { at: at + 8, bytes });
      at += 8 + bytes;
    }
    return out;
  }
}

/** Opens a legacy torch.save file: its object and its located storages. */
export function openLegacyPth(file: string, maxPickleBytes: number): LegacyPth {
  const r = new LegacyReader(file);
  try {
    const { values, end } = r.pickles(maxPickleBytes);
    const layout = r.layout(r.check(values), end);
    const source: StorageSource = {
      byteSize: (key) => layout.get(key)?.bytes,
      read: (key, from, len) => r.f.read(layout.get(key)!.at + from, len),
      bad: (what) => r.bad(what),
    };
    return { root: values[3], source, close: () => r.f.close() };
  } catch (e) {
    r.f.close();
    throw e;
  }
}
