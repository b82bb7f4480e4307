// Timing methodology shared by every benchmark (bench/peers/harness.py does the same steps
// on the PyTorch side): `warmup` untimed runs, one calibration run that sets how many runs
// make up a sample (at least `minSampleMs` long, so that microsecond ops are not timer
// noise), then `repeats` samples; the result is the median time per run. Work queued on a
// GPU is waited for by `sync()` (repmlp reads one element back; PyTorch calls
// torch.cuda.synchronize()) at the end of every sample.

export interface TimingOptions {
  /** untimed runs before measuring */
  warmup: number;
  /** samples taken; the median is reported */
  repeats: number;
  /** a sample repeats the run until it lasts at least this long (0: one run per sample) */
  minSampleMs: number;
}

export interface Timing {
  /** median milliseconds per run */
  ms: number;
  /** fastest sample, milliseconds per run */
  minMs: number;
  /** runs per sample */
  inner: number;
  repeats: number;
}

/** The median of a non-empty list (the mean of the two middle values for an even count). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('median: expected a non-empty list of numbers but received an empty list');
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Runs per sample so that a sample lasts at least minSampleMs, given one run's time. */
export function runsPerSample(onceMs: number, minSampleMs: number): number {
  if (minSampleMs <= 0) return 1;
  return Math.max(1, Math.ceil(minSampleMs / Math.max(onceMs, 1e-3)));
}

function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Times `run` as described at the top of this file. */
export function measure(run: () => void, sync: () => void, opts: TimingOptions): Timing {
  for (let i = 0; i < opts.warmup; i++) run();
  sync();
  let t0 = nowMs();
  run();
  sync();
  const inner = runsPerSample(nowMs() - t0, opts.minSampleMs);
  const samples: number[] = [];
  for (let r = 0; r < Math.max(1, opts.repeats); r++) {
    t0 = nowMs();
    for (let i = 0; i < inner; i++) run();
    sync();
    samples.push((nowMs() - t0) / inner);
  }
  return { ms: median(samples), minMs: Math.min(...samples), inner, repeats: samples.length };
}

/** measure() for a run that returns a promise (onnxruntime's session.run), awaited each time. */
export async function measureAsync(run: () => Promise<void>, opts: TimingOptions): Promise<Timing> {
  for (let i = 0; i < opts.warmup; i++) await run();
  let t0 = nowMs();
  await run();
  const inner = runsPerSample(nowMs() - t0, opts.minSampleMs);
  const samples: number[] = [];
  for (let r = 0; r < Math.max(1, opts.repeats); r++) {
    t0 = nowMs();
    for (let i = 0; i < inner; i++) await run();
    samples.push((nowMs() - t0) / inner);
  }
  return { ms: median(samples), minMs: Math.min(...samples), inner, repeats: samples.length };
}

/** GFLOP/s of `flops` floating-point operations in `ms` milliseconds. */
export function gflops(flops: number, ms: number): number {
  return flops / ms / 1e6;
}

/** GB/s of `bytes` moved in `ms` milliseconds. */
export function gbps(bytes: number, ms: number): number {
  return bytes / ms / 1e6;
}
