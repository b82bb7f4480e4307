// A lock on a run directory, so that two trainers never write one directory at once.
//
// The lock is the file `<dir>/train.lock`, created exclusively (open with 'wx': exactly one
// creator wins) and holding its owner as JSON: {"pid", "host", "started"}. A second trainer
// finds it and stops at once, naming the directory and the owner. A lock whose owner is no
// longer running (a trainer killed by a signal or a power cut) is stale and is taken over,
// with one line on stderr saying so. Locks of another host (a shared file system) are never
// taken over: their pid cannot be checked from here.
//
// Taking over is itself guarded: the stale file is first renamed to a name of our own and
// read back; if it is not the stale content (another process took over and locked in the
// meantime) it is put back, and the attempt starts again.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RepmlpError } from '../errors';
import { ioCause, writeAll } from './atomic';
import { isProcessAlive } from './pid';

export const LOCK_NAME = 'train.lock';

/** How long a lock file without readable content counts as being written by its creator. */
const UNREADABLE_GRACE_MS = 10_000;
const ATTEMPTS = 5;

export interface DirLock {
  /** the lock file */
  readonly file: string;
  /** removes the lock (when it is still ours); later calls do nothing */
  release(): void;
}

export interface LockOptions {
  /** names the caller in error messages (default 'lock') */
  op?: string;
  /** where the line about a taken-over stale lock goes (default process.stderr) */
  warn?: (line: string) => void;
}

interface Holder {
  pid: number;
  host: string;
  started: string;
}

/** The lock file's content: its holder, or null when it is not (yet) readable JSON. */
function parseHolder(text: string): Holder | null {
  try {
    const h = JSON.parse(text) as Partial<Holder>;
    if (typeof h === 'object' && h !== null && Number.isSafeInteger(h.pid) && typeof h.host === 'string')
      return { pid: h.pid!, host: h.host, started: typeof h.started === 'string' ? h.started : '?' };
  } catch {
    // not JSON: see below
  }
  return null;
}

/** The lock's current content and age, or null when it no longer exists. */
function readLock(file: string, op: string): { text: string; ageMs: number } | null {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return { text, ageMs: Date.now() - fs.statSync(file).mtimeMs };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new RepmlpError(`${op}: could not read the lock ${file}: ${ioCause(e)}`);
  }
}

/** True when the holder can no longer be using the directory. */
function isStale(holder: Holder | null, ageMs: number): boolean {
  if (holder === null) return ageMs > UNREADABLE_GRACE_MS; // a creator that died before writing its pid
  return holder.host === os.hostname() && !isProcessAlive(holder.pid);
}

/** Removes a stale lock if it still holds `text`; false when someone else changed it first. */
function takeOver(file: string, text: string, op: string): boolean {
  const aside = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.stale`;
  try {
    fs.renameSync(file, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new RepmlpError(`${op}: could not take over the stale lock ${file}: ${ioCause(e)}`);
  }
  if (fs.readFileSync(aside, 'utf8') === text) {
    fs.rmSync(aside, { force: true });
    return true;
  }
  // Another process's fresh lock: put it back (link fails when yet another one exists).
  try {
    fs.linkSync(aside, file);
  } catch {
    // the newer lock at `file` stands
  }
  fs.rmSync(aside, { force: true });
  return false;
}

function busy(op: string, dir: string, file: string, holder: Holder | null): RepmlpError {
  const who = holder
    ? `process ${holder.pid} on ${holder.host} (started ${holder.started})${holder.host === os.hostname() ? '' : ', which this host cannot check'}`
    : 'a process that is creating the lock right now';
  return new RepmlpError(
    `${op}: expected no other run in ${dir} but ${who} holds it (${file}); ` +
      `wait for that run to end, use another directory, or remove ${file} if that process is gone`,
  );
}

/** Creates the lock file exclusively with our content; false when it exists already. */
function tryCreate(file: string, content: string, op: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new RepmlpError(`${op}: could not create the lock ${file}: ${ioCause(e)}`);
  }
  try {
    writeAll(fd, Buffer.from(content, 'utf8'));
    fs.closeSync(fd);
  } catch (e) {
    try {
      fs.closeSync(fd);
    } catch {
      // closed already, or the write's error is the one reported
    }
    fs.rmSync(file, { force: true });
    throw new RepmlpError(`${op}: could not write the lock ${file}: ${ioCause(e)}`);
  }
  return true;
}

/**
 * Locks `dir` (created when missing) for this process: throws a RepmlpError naming the
 * holder when another live process has it, takes over a stale lock (one line to `warn`).
 */
export function lockDirectory(dir: string, opts: LockOptions = {}): DirLock {
  const op = opts.op ?? 'lock';
  const warn = opts.warn ?? ((t: string) => void process.stderr.write(t));
  const file = path.join(dir, LOCK_NAME);
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new RepmlpError(`${op}: could not create the directory ${dir}: ${ioCause(e)}`);
  }
  const content = JSON.stringify({ pid: process.pid, host: os.hostname(), started: new Date().toISOString() }) + '\n';
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    if (tryCreate(file, content, op)) return held(file, content);
    const found = readLock(file, op);
    if (found === null) continue; // released in the meantime
    const holder = parseHolder(found.text);
    if (!isStale(holder, found.ageMs)) throw busy(op, dir, file, holder);
    if (takeOver(file, found.text, op))
      warn(`repmlp: took over the stale lock ${file} of ${holder ? `process ${holder.pid} (started ${holder.started}), which is no longer running` : 'a process that died while creating it'}\n`);
  }
  throw new RepmlpError(`${op}: could not lock ${dir}: ${file} changed hands ${ATTEMPTS} times while this process tried to take it`);
}

/** The handle of a lock we hold; also released when the process exits normally. */
function held(file: string, content: string): DirLock {
  let done = false;
  const release = (): void => {
    if (done) return;
    done = true;
    process.removeListener('exit', release);
    try {
      if (fs.readFileSync(file, 'utf8') === content) fs.rmSync(file, { force: true });
    } catch {
      // removed already
    }
  };
  process.on('exit', release);
  return { file, release };
}
