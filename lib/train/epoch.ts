// An epoch of the trainer: its optimizer steps (each over accumSteps micro-batches, the
// epoch's last over what is left; the EMA moved when due; a metrics record and a log line
// every `logEvery` steps, last.safetensors every `saveEvery` steps, a stop when maxSteps or
// shouldStop says so: all at step boundaries, so a checkpoint never holds a half-summed
// gradient), then its end: the test accuracy of the model and of its EMA, the epoch's
// metrics record and line, best.safetensors / best-ema.safetensors when an accuracy is the
// best so far, and last.safetensors.
import { evaluate, type Evaluation } from './evaluate';
import type { Progress, StepPoint } from './progress';
import type { TrainingRun } from './run';
import { trainStep } from './step';

/** True when maxSteps is reached or shouldStop asks for a stop (rank 0's answer, on every rank). */
export function stopRequested(run: TrainingRun): boolean {
  if (run.meta.step >= run.s.maxSteps) return true;
  return run.s.shouldStop !== undefined && run.par.agree(run.s.shouldStop(run.meta.step) === true);
}

/**
 * The progress point; reads the epoch's correct count back from the device, unless `fresh`
 * is false (a terminal's redraw in a run of many ranks, which only rank 0 makes: the count
 * over the ranks is a collective, read at the log lines).
 */
function point(run: TrainingRun, fresh = true): StepPoint {
  const m = run.meta;
  if (fresh) m.epochCorrect = run.correctSum.read();
  return { epoch: m.epoch, batch: run.stepsInEpoch(), step: m.step, accuracy: m.epochCorrect / m.epochSeen };
}

/** Evaluates `model` over the test loader: every rank's share, the counts summed over the ranks. */
export function evaluateOn(run: TrainingRun, model: TrainingRun['model']): Promise<Evaluation> {
  return evaluate(model, run.testLoader, run.s.device, { sum: (c) => run.par.sumCounts(c) });
}

/** The step's metrics record and log line; reads the epoch's loss (a mean over its micro-batches) back from the device. */
function logStep(run: TrainingRun, progress: Progress, lr: number): void {
  const p = point(run);
  progress.lastLoss = run.lossSum.read() / run.meta.batch;
  const ips = progress.windowRate();
  run.record({ type: 'step', step: p.step, epoch: p.epoch + 1, loss: progress.lastLoss, lr, imgsPerSec: Number(ips.toFixed(1)) });
  progress.stepLine(p, lr, ips);
}

/** One optimizer step over the next micro-batches of the epoch; meta counts them. */
async function nextStep(run: TrainingRun, progress: Progress): Promise<number> {
  const t0 = Date.now();
  const m = run.meta;
  const count = Math.min(run.s.accumSteps, run.batchesPerEpoch - m.batch);
  const lr = run.schedule(m.step);
  const images = await trainStep(run, () => run.trainLoader.next(), count, lr);
  m.epochSeen += images;
  m.batch += count;
  m.step++;
  run.updateEma();
  progress.stepDone(images, (Date.now() - t0) / 1000);
  return lr;
}

/**
 * Trains the rest of the current epoch. Returns true when the run stopped before the
 * epoch's last step (last.safetensors then holds that point).
 */
export async function trainBatches(run: TrainingRun, progress: Progress): Promise<boolean> {
  const { s } = run;
  while (run.meta.batch < run.batchesPerEpoch) {
    const lr = await nextStep(run, progress);
    const m = run.meta;
    const endOfEpoch = m.batch === run.batchesPerEpoch;
    if (m.step % s.logEvery === 0 || endOfEpoch) logStep(run, progress, lr);
    if (progress.drawDue(endOfEpoch)) progress.draw(point(run, run.par.size === 1));
    // The epoch's end saves and checks for a stop itself, after the evaluation.
    if (endOfEpoch) break;
    if (m.step % s.saveEvery === 0) run.save(run.files.last);
    // A turn of the event loop, so that a signal that came during the step (Ctrl-C) is seen
    // now: batches prefetched in memory are taken without one.
    await new Promise((resolve) => setImmediate(resolve));
    if (stopRequested(run)) {
      if (m.step % s.saveEvery !== 0) run.save(run.files.last);
      return true;
    }
  }
  return false;
}

/** Evaluates the EMA, records it in meta; returns it and whether it is the EMA's best (null without an EMA). */
async function evaluateEma(run: TrainingRun): Promise<{ ev: Evaluation; best: boolean } | null> {
  if (!run.ema) return null;
  const ev = await evaluateOn(run, run.ema.model);
  const m = run.meta;
  [m.lastEmaAccuracy, m.lastEmaTop5] = [ev.accuracy, ev.top5Accuracy];
  const best = ev.accuracy > m.bestEmaAccuracy;
  if (best) m.bestEmaAccuracy = ev.accuracy;
  return { ev, best };
}

/** The epoch's record in metrics.jsonl. */
function epochRecord(run: TrainingRun, trainLoss: number, trainAccuracy: number, ev: Evaluation, ema: Evaluation | null, seconds: number): Record<string, unknown> {
  const m = run.meta;
  const emaFields = ema ? { emaTestAccuracy: ema.accuracy, emaTestTop5: ema.top5Accuracy } : {};
  return { type: 'epoch', step: m.step, epoch: m.epoch + 1, trainLoss, trainAccuracy, testAccuracy: ev.accuracy, testTop5: ev.top5Accuracy, ...emaFields, seconds };
}

/** The end of an epoch: evaluations, metrics, the next epoch's start, best and last checkpoints. */
export async function endEpoch(run: TrainingRun, progress: Progress, epochStart: number): Promise<void> {
  const ev = await evaluateOn(run, run.model);
  const ema = await evaluateEma(run);
  const m = run.meta;
  const trainLoss = run.lossSum.read() / run.batchesPerEpoch;
  m.epochCorrect = run.correctSum.read();
  const trainAccuracy = m.epochCorrect / m.epochSeen;
  [m.lastAccuracy, m.lastTop5] = [ev.accuracy, ev.top5Accuracy];
  const best = ev.accuracy > m.bestAccuracy;
  if (best) m.bestAccuracy = ev.accuracy;
  run.record(epochRecord(run, trainLoss, trainAccuracy, ev, ema?.ev ?? null, (Date.now() - epochStart) / 1000));
  progress.epochLine({ epoch: m.epoch, trainLoss, trainAccuracy, test: ev, best, ema: ema?.ev ?? null, emaBest: ema?.best ?? false });
  m.epoch++;
  m.batch = 0;
  m.epochCorrect = 0;
  m.epochSeen = 0;
  run.lossSum.reset();
  run.correctSum.reset();
  if (best) run.save(run.files.best);
  if (ema?.best) run.saveBestEma();
  run.save(run.files.last);
}
