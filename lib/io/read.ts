// Bounded whole-file reads for the readers (safetensors, IDX, CIFAR): the file must be a
// regular file (a FIFO or a device such as /dev/zero would be read without end) no larger
// than the reader's limit, checked before any memory is taken; every error names the file.
import { constants as bufferConstants } from 'node:buffer';
import * as fs from 'node:fs';
import { RepmlpError } from '../errors';
import { ioCause } from './atomic';

/** The largest file one Buffer can hold on this platform. */
export const MAX_BUFFER_BYTES = bufferConstants.MAX_LENGTH;

/** Formats a byte count for messages: 1536 -> "1536 bytes (1.5 KiB)". */
export function bytesText(n: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n, u = -1;
  while (v >= 1024 && u < units.length - 1) (v /= 1024), u++;
  return u < 0 ? `${n} bytes` : `${n} bytes (${v.toFixed(1)} ${units[u]})`;
}

export interface BoundedReadOptions {
  /** the reader's name: errors read "<op>: could not read <file>: ..." (without it "<file>: cannot read the file (...)") */
  op?: string;
  /** the largest file accepted (default and at most MAX_BUFFER_BYTES) */
  maxBytes?: number;
}

/**
 * All bytes of `file`, refused with a RepmlpError naming the file when it cannot be read,
 * is not a regular file or is larger than `maxBytes`. (A Buffer, typed as the Uint8Array it
 * is, so that the published types need no @types/node.)
 */
export function readFileBounded(file: string, opts: BoundedReadOptions = {}): Uint8Array {
  const where = opts.op === undefined ? `${file}:` : `${opts.op}: ${file}:`;
  const cannot = (e: unknown) =>
    new RepmlpError(opts.op === undefined ? `${file}: cannot read the file (${ioCause(e)})` : `${opts.op}: could not read ${file}: ${ioCause(e)}`);
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    throw cannot(e);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new RepmlpError(`${where} expected a regular file but received ${st.isDirectory() ? 'a directory' : 'a device, pipe or socket'}`);
    const limit = Math.min(opts.maxBytes ?? MAX_BUFFER_BYTES, MAX_BUFFER_BYTES);
    if (st.size > limit) throw new RepmlpError(`${where} the file is ${bytesText(st.size)} long, more than the ${bytesText(limit)} this reader accepts`);
    const buf = Buffer.allocUnsafe(st.size);
    let done = 0;
    while (done < buf.length) {
      const n = fs.readSync(fd, buf, done, buf.length - done, done);
      if (n === 0) break; // shrank while being read: the parser reports what is missing
      done += n;
    }
    return done === buf.length ? buf : buf.subarray(0, done);
  } catch (e) {
    if (e instanceof RepmlpError) throw e;
    throw cannot(e);
  } finally {
    fs.closeSync(fd);
  }
}
