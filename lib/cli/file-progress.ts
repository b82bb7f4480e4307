// How far a command over many files is, on stderr (stdout holds its results): on a terminal
// one line redrawn at most every 100 ms and cleared at the end, as the trainer's progress
// (lib/train/progress.ts); otherwise a line every `every` files.
import { duration } from '../train/progress';
import type { Io } from './command';

export class FileProgress {
  private readonly start = Date.now();
  private lastDraw = 0;
  private lastLine = 0;
  private drawn = false;

  constructor(private readonly io: Io, private readonly what: string, private readonly total: number, private readonly every: number) {}

  private text(done: number): string {
    const seconds = (Date.now() - this.start) / 1000, rate = done / Math.max(seconds, 1e-3);
    return `${this.what}: ${done}/${this.total} files, ${rate.toFixed(1)} files/s, ETA ${duration((this.total - done) / rate)}`;
  }

  /** `done` of the files are through. */
  update(done: number): void {
    if (this.io.errIsTty) {
      if (Date.now() - this.lastDraw < 100 && done < this.total) return;
      this.lastDraw = Date.now();
      this.drawn = true;
      this.io.err(`\r${this.text(done)}   `);
    } else if (Math.floor(done / this.every) > Math.floor(this.lastLine / this.every) && done < this.total) {
      this.lastLine = done;
      this.io.err(this.text(done) + '\n');
    }
  }

  /** Ends a redrawn line (before anything else goes to stderr). */
  end(): void {
    if (this.drawn) this.io.err('\r\x1b[K');
    this.drawn = false;
  }
}
