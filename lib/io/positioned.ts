// A file read by position (fs.readSync at an offset), for the formats whose entries are
// located first and read one at a time: the zip archives and the legacy files of torch.save.
// Every short read is an error naming the file, through the caller's `bad`.
import * as fs from 'node:fs';
import { RepmlpError } from '../errors';

export class PositionedFile {
  readonly size: number;
  private readonly fd: number;

  /** Opens `file` (a RepmlpError `<op>: could not read <file>: ...` when it cannot be). */
  constructor(readonly file: string, op: string, private readonly bad: (what: string) => never) {
    try {
      this.fd = fs.openSync(file, 'r');
    } catch (e) {
      throw new RepmlpError(`${op}: could not read ${file}: ${(e as Error).message}`);
    }
    try {
      this.size = fs.fstatSync(this.fd).size;
    } catch (e) {
      fs.closeSync(this.fd);
      throw e;
    }
  }

  /** The bytes [pos, pos + len) of the file; a file that ends before them is `bad`. */
  read(pos: number, len: number): Buffer {
    const buf = Buffer.alloc(len);
    let done = 0;
    while (done < len) {
      const n = fs.readSync(this.fd, buf, done, len - done, pos + done);
      if (n === 0) this.bad(`it ends at byte ${pos + done}, before the ${len} bytes needed at ${pos}`);
      done += n;
    }
    return buf;
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}
