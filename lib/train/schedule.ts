// The learning-rate schedule of the trainer, per step: a linear warm-up from
// lr * warmupStart to lr over the first `warmupSteps` steps, then a half cosine from lr down
// to minLr at the last step (timm's CosineLRScheduler with per-step updates).
import { describe, fail } from '../errors';

export interface CosineScheduleOptions {
  /** the peak learning rate, reached at the end of the warm-up */
  lr: number;
  /** the learning rate of the last step (default 0) */
  minLr?: number;
  /** steps in the whole run (>= 1) */
  totalSteps: number;
  /** linear warm-up steps (default 0; at most totalSteps) */
  warmupSteps?: number;
  /** the warm-up starts at lr * warmupStart (default 0, in [0, 1]) */
  warmupStart?: number;
}

const OP = 'cosineSchedule';

function num(name: string, v: unknown, min: number, max = Infinity): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max)
    fail(OP, name, max === Infinity ? `a finite number >= ${min}` : `a number in [${min}, ${max}]`, describe(v));
  return v as number;
}

function int(name: string, v: unknown, min: number, max = Infinity): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    fail(OP, name, max === Infinity ? `an integer >= ${min}` : `an integer in [${min}, ${max}]`, describe(v));
  return v as number;
}

/** A function from the step index (0-based) to its learning rate. */
export function cosineSchedule(opts: CosineScheduleOptions): (step: number) => number {
  if (typeof opts !== 'object' || opts === null) fail(OP, 'options', 'an object', describe(opts));
  const lr = num('lr', opts.lr, 0);
  const minLr = num('minLr', opts.minLr ?? 0, 0, lr);
  const total = int('totalSteps', opts.totalSteps, 1);
  const warmup = int('warmupSteps', opts.warmupSteps ?? 0, 0, total);
  const start = num('warmupStart', opts.warmupStart ?? 0, 0, 1);
  return (step: number): number => {
    if (!Number.isInteger(step) || step < 0) fail(OP, 'step', 'an integer >= 0', describe(step));
    if (step < warmup) return lr * (start + ((1 - start) * step) / warmup);
    const span = total - 1 - warmup;
    if (span <= 0) return lr;
    const t = Math.min(1, (step - warmup) / span);
    return minLr + 0.5 * (lr - minLr) * (1 + Math.cos(Math.PI * t));
  };
}
