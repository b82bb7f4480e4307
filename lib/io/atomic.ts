// The one way the package writes files. A file is written whole or not at all:
//
//   1. a temporary file `.<base>.<pid>.<random>.tmp` is opened in the target's directory
//      (same file system, so the rename below is atomic);
//   2. the bytes go out in a loop that checks what every fs.writeSync accepted (a write
//      that accepts fewer bytes continues from there; one that accepts none is an error);
//   3. the file is fsynced and closed (close reports deferred write errors on some file
//      systems), renamed over the target, and the directory is fsynced so the rename
//      itself survives a power cut.
//
// On any error the temporary file is removed, the previous file is left byte for byte as
// it was, and a RepmlpError names the file and the cause in words (a full disk says "the
// disk is full"). A process killed between 1 and 3 leaves its temporary file behind;
// removeStaleTemps() clears those of processes that are no longer running.
//
// Appends (the trainer's metrics log) go through appendFileChecked(): the same checked
// loop, and on error the file is cut back to its previous length, so a log never ends in
// half a line.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RepmlpError } from '../errors';
import { isProcessAlive } from './pid';

/** The cause of an I/O error in words, with the system's message after it. */
export function ioCause(e: unknown): string {
  const err = e as NodeJS.ErrnoException | undefined;
  const msg = err instanceof Error ? err.message : String(e);
  switch (err?.code) {
    case 'ENOSPC': return `the disk is full (${msg})`;
    case 'EDQUOT': return `the disk quota is exceeded (${msg})`;
    case 'EROFS': return `the file system is read-only (${msg})`;
    case 'EACCES': case 'EPERM': return `permission denied (${msg})`;
    case 'EFBIG': return `the file is larger than the file system allows (${msg})`;
    default: return msg;
  }
}

/** An error for a write that made no progress: the system accepted 0 bytes. */
function noProgress(done: number, total: number): RepmlpError {
  return new RepmlpError(`a write accepted 0 of the ${total - done} bytes left (${done} of ${total} written); the disk is probably full`);
}

/** Writes all of `bytes` at the fd's position, checking each write's count. */
export function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) {
    const n = fs.writeSync(fd, bytes, done, bytes.length - done);
    if (!(n > 0)) throw noProgress(done, bytes.length);
    done += n;
  }
}

/** What the writers take: text (UTF-8), bytes, or bytes in pieces written one after the other (a large file never concatenated). */
export type FileData = Uint8Array | string | readonly Uint8Array[];

function asChunks(data: FileData): readonly Uint8Array[] {
  if (typeof data === 'string') return [Buffer.from(data, 'utf8')];
  return data instanceof Uint8Array ? [data] : data;
}

/** The temporary name for `file` in its directory: `.<base>.<pid>.<12 hex digits>.tmp`. */
function tempPath(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

/** fsync of a directory, so that a rename in it is durable; a no-op where the platform has none. */
function syncDirectory(dir: string): void {
  let fd: number;
  try {
    fd = fs.openSync(dir, 'r');
  } catch {
    return; // Windows cannot open a directory
  }
  try {
    fs.fsyncSync(fd);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EPERM' && code !== 'EISDIR' && code !== 'EBADF') throw e;
  } finally {
    fs.closeSync(fd);
  }
}

/** The permission bits of an existing regular file, or null when there is none. */
function existingMode(file: string): number | null {
  try {
    const st = fs.statSync(file);
    return st.isFile() ? st.mode & 0o7777 : null;
  } catch {
    return null;
  }
}

function closeQuietly(fd: number | null): void {
  if (fd === null) return;
  try {
    fs.closeSync(fd);
  } catch {
    // the write already failed; that error is the one reported
  }
}

/**
 * Writes `data` to `file` atomically (see the top of this file): the file holds either its
 * previous content or all of `data`. `op` names the caller in the error message.
 */
export function writeFileAtomic(file: string, data: FileData, op = 'write'): void {
  const target = path.resolve(file);
  const chunks = asChunks(data);
  const mode = existingMode(target);
  let tmp: string | null = null;
  let fd: number | null = null;
  try {
    fs.mkdirSync(path.dirname(target), { recursive: true });
    tmp = tempPath(target);
    fd = fs.openSync(tmp, 'wx', 0o666);
    if (mode !== null) fs.fchmodSync(fd, mode); // a replaced file keeps its permissions (a private checkpoint stays private)
    for (const c of chunks) writeAll(fd, c);
    fs.fsyncSync(fd);
    const closing = fd;
    fd = null;
    fs.closeSync(closing);
    fs.renameSync(tmp, target);
    tmp = null;
  } catch (e) {
    closeQuietly(fd);
    if (tmp !== null) fs.rmSync(tmp, { force: true });
    const kept = mode !== null ? `${file} keeps its previous content` : `no ${path.basename(file)} was created`;
    throw new RepmlpError(`${op}: could not write ${file}: ${ioCause(e)}; ${kept}`);
  }
  try {
    syncDirectory(path.dirname(target));
  } catch (e) {
    throw new RepmlpError(`${op}: wrote ${file} but could not sync its directory: ${ioCause(e)}`);
  }
}

/**
 * Appends `text` to `file` (created when missing). A failed append cuts the file back to
 * its length before, so it never ends in a partial record.
 */
export function appendFileChecked(file: string, text: Uint8Array | string, op = 'write'): void {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  let fd: number | null = null;
  let before = -1;
  try {
    fd = fs.openSync(file, 'a');
    before = fs.fstatSync(fd).size;
    writeAll(fd, bytes);
    const closing = fd;
    fd = null;
    fs.closeSync(closing);
  } catch (e) {
    if (before >= 0) {
      try {
        fs.truncateSync(file, before);
      } catch {
        // the append's error is the one reported
      }
    }
    closeQuietly(fd);
    throw new RepmlpError(`${op}: could not append to ${file}: ${ioCause(e)}${before >= 0 ? `; ${file} keeps its previous ${before} bytes` : ''}`);
  }
}

// `.<base>.<pid>.<hex>.tmp` as tempPath() writes it (older versions wrote a decimal
// timestamp in place of the hex digits, which the pattern also matches).
const TEMP_NAME = /^\.(.+)\.(\d{1,10})\.([0-9a-f]{6,32})\.tmp$/;

export interface StaleTempOptions {
  /** only the temporary files of this base name (a single-file output); default: all */
  base?: string;
  /** where the one-line report goes (default process.stderr); nothing is reported when none was removed */
  report?: (line: string) => void;
}

/**
 * Removes the temporary files that writeFileAtomic() left in `dir` when a process died
 * mid-write: those whose pid is not a running process. Temporary files of running
 * processes (another write in progress) are kept. Returns the names removed.
 */
export function removeStaleTemps(dir: string, opts: StaleTempOptions = {}): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return []; // no directory yet, so nothing stale in it
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = TEMP_NAME.exec(name);
    if (!m || (opts.base !== undefined && m[1] !== opts.base)) continue;
    const pid = Number(m[2]);
    if (pid < 1 || isProcessAlive(pid)) continue;
    const p = path.join(dir, name);
    try {
      if (!fs.lstatSync(p).isFile()) continue;
      fs.rmSync(p, { force: true });
      removed.push(name);
    } catch {
      // gone already, or not ours to remove: left alone
    }
  }
  if (removed.length) {
    const report = opts.report ?? ((t: string) => void process.stderr.write(t));
    report(`repmlp: removed ${removed.length} stale temporary file${removed.length === 1 ? '' : 's'} in ${dir} left by processes no longer running: ${removed.join(', ')}\n`);
  }
  return removed;
}
