// What the trainer prints while it runs: a line every `logEvery` steps and one per epoch,
// or on a terminal one line redrawn at most every 100 ms with the speed and the time left.
// It keeps the timings those need (images and seconds of training this run, images since
// the last line); the values it prints come from the caller, which decides when to read
// them back from the device.
import type { Evaluation } from './evaluate';

export const pct = (a: number) => `${(100 * a).toFixed(2)}%`;

/** 1h05m, 3m07s, 42s; '?' when not finite. */
export function duration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  s = Math.round(s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return h ? `${h}h${String(m).padStart(2, '0')}m` : m ? `${m}m${String(r).padStart(2, '0')}s` : `${r}s`;
}

/** Where the run stands after a step, as the progress shows it. */
export interface StepPoint {
  /** the epoch in progress, 0-based */
  epoch: number;
  /** optimizer steps of the epoch done, and in total */
  batch: number;
  step: number;
  /** the epoch's training accuracy so far */
  accuracy: number;
}

/** What an epoch's line shows: its training loss and accuracy, and the evaluations after it. */
export interface EpochResult {
  /** 0-based */
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  test: Evaluation;
  /** the test accuracy is the best so far */
  best: boolean;
  /** the EMA of the weights evaluated (null without one), and whether that is its best */
  ema: Evaluation | null;
  emaBest: boolean;
}

/** `test acc 75.00% (3/4), top-5 100.00%`; the top-k of fewer than 5 classes says its k. */
function accuracies(ev: Evaluation): string {
  return `test acc ${pct(ev.accuracy)} (${ev.correct}/${ev.total}), top-${ev.topK} ${pct(ev.top5Accuracy)}`;
}

export interface ProgressOptions {
  write: (text: string) => void;
  tty: boolean;
  epochs: number;
  stepsPerEpoch: number;
  totalSteps: number;
}

export class Progress {
  /** seconds spent in training steps and images trained, this run (not before a resume) */
  trainSeconds = 0;
  trainImages = 0;
  /** the epoch's mean training loss at the last log line (NaN before the first) */
  lastLoss = NaN;
  private stepsThisRun = 0;
  private windowStart = Date.now();
  private windowImages = 0;
  private lastDraw = 0;

  constructor(private readonly o: ProgressOptions) {}

  get tty(): boolean {
    return this.o.tty;
  }

  /** Counts a finished step of `images` images that took `seconds`. */
  stepDone(images: number, seconds: number): void {
    this.stepsThisRun++;
    this.trainImages += images;
    this.windowImages += images;
    this.trainSeconds += seconds;
  }

  /** Images per second since the last call (or the start), which starts a new window. */
  windowRate(): number {
    const rate = this.windowImages / Math.max(1e-3, (Date.now() - this.windowStart) / 1000);
    this.windowStart = Date.now();
    this.windowImages = 0;
    return rate;
  }

  /** The log line of a step (not on a terminal, where draw() shows the same). */
  stepLine(p: StepPoint, lr: number, imagesPerSecond: number): void {
    if (this.o.tty) return;
    this.o.write(`epoch ${p.epoch + 1}/${this.o.epochs} step ${p.batch}/${this.o.stepsPerEpoch} (${p.step}) loss ${this.lastLoss.toFixed(4)} ` +
      `acc ${pct(p.accuracy)} lr ${lr.toExponential(2)} ${imagesPerSecond.toFixed(0)} img/s\n`);
  }

  /** True on a terminal when the line is due for a redraw (100 ms since the last, or the epoch's end). */
  drawDue(endOfEpoch: boolean): boolean {
    if (!this.o.tty || (Date.now() - this.lastDraw <= 100 && !endOfEpoch)) return false;
    this.lastDraw = Date.now();
    return true;
  }

  /** Redraws the terminal line: the loss of the last log line, the speed and the time left. */
  draw(p: StepPoint): void {
    const eta = ((this.o.totalSteps - p.step) * this.trainSeconds) / this.stepsThisRun;
    this.o.write(`\repoch ${p.epoch + 1}/${this.o.epochs} step ${p.batch}/${this.o.stepsPerEpoch} loss ${Number.isNaN(this.lastLoss) ? '-' : this.lastLoss.toFixed(4)} ` +
      `acc ${pct(p.accuracy)} ${this.imagesPerSecond(1e-3).toFixed(0)} img/s ETA ${duration(eta)}   `);
  }

  /** The epoch's line, after its evaluations (a terminal's redrawn line is ended first). */
  epochLine(r: EpochResult): void {
    if (this.o.tty) this.o.write('\n');
    const ema = r.ema ? `; EMA ${accuracies(r.ema)}${r.emaBest ? ', best EMA so far' : ''}` : '';
    this.o.write(`epoch ${r.epoch + 1}/${this.o.epochs}: train loss ${r.trainLoss.toFixed(4)}, train acc ${pct(r.trainAccuracy)}, ` +
      `${accuracies(r.test)}${r.best ? ', best so far' : ''}${ema}\n`);
  }

  /** Training images per second this run; `minSeconds` keeps the first steps' rate finite. */
  imagesPerSecond(minSeconds = 0): number {
    const s = Math.max(this.trainSeconds, minSeconds);
    return s > 0 ? this.trainImages / s : 0;
  }
}
