// An epoch of the trainer: its batches (a step each, a metrics record and a log line every
// `logEvery` steps, last.safetensors every `saveEvery` steps, a stop when maxSteps or
// shouldStop says so), then its end: the test accuracy, the epoch's metrics record and
// line, best.safetensors when the accuracy is the best so far, and last.safetensors.
import { evaluate } from './evaluate';
import type { Progress, StepPoint } from './progress';
import type { TrainingRun } from './run';
import { trainStep } from './step';

/** True when maxSteps is reached or shouldStop asks for a stop. */
export function stopRequested(run: TrainingRun): boolean {
  return run.meta.step >= run.s.maxSteps || run.s.shouldStop?.(run.meta.step) === true;
}

/** The progress point; reads the epoch's correct count back from the device. */
function point(run: TrainingRun): StepPoint {
  const m = run.meta;
  m.epochCorrect = run.correctSum.read();
  return { epoch: m.epoch, batch: m.batch, step: m.step, accuracy: m.epochCorrect / m.epochSeen };
}

/** The step's metrics record and log line; reads the epoch's loss back from the device. */
function logStep(run: TrainingRun, progress: Progress, lr: number): void {
  const p = point(run);
  progress.lastLoss = run.lossSum.read() / p.batch;
  const ips = progress.windowRate();
  run.record({ type: 'step', step: p.step, epoch: p.epoch + 1, loss: progress.lastLoss, lr, imgsPerSec: Number(ips.toFixed(1)) });
  progress.stepLine(p, lr, ips);
}

/**
 * Trains the rest of the current epoch. Returns true when the run stopped before the
 * epoch's last batch (last.safetensors then holds that point).
 */
export async function trainBatches(run: TrainingRun, progress: Progress): Promise<boolean> {
  const { s, stepsPerEpoch } = run;
  while (run.meta.batch < stepsPerEpoch) {
    const t0 = Date.now();
    const batch = await run.trainLoader.next();
    const lr = run.schedule(run.meta.step);
    trainStep(run, batch, lr);
    const m = run.meta;
    m.epochSeen += batch.labels.length;
    m.batch++;
    m.step++;
    progress.stepDone(batch.labels.length, (Date.now() - t0) / 1000);
    const endOfEpoch = m.batch === stepsPerEpoch;
    if (m.step % s.logEvery === 0 || endOfEpoch) logStep(run, progress, lr);
    if (progress.drawDue(endOfEpoch)) progress.draw(point(run));
    // The epoch's end saves and checks for a stop itself, after the evaluation.
    if (endOfEpoch) break;
    if (m.step % s.saveEvery === 0) run.save(run.files.last);
    if (stopRequested(run)) {
      if (m.step % s.saveEvery !== 0) run.save(run.files.last);
      return true;
    }
  }
  return false;
}

/** The end of an epoch: evaluation, metrics, the next epoch's start, best and last checkpoints. */
export async function endEpoch(run: TrainingRun, progress: Progress, epochStart: number): Promise<void> {
  const ev = await evaluate(run.model, run.testLoader, run.s.device);
  const m = run.meta;
  const trainLoss = run.lossSum.read() / run.stepsPerEpoch;
  m.epochCorrect = run.correctSum.read();
  const trainAccuracy = m.epochCorrect / m.epochSeen;
  m.lastAccuracy = ev.accuracy;
  const best = ev.accuracy > m.bestAccuracy;
  if (best) m.bestAccuracy = ev.accuracy;
  run.record({ type: 'epoch', step: m.step, epoch: m.epoch + 1, trainLoss, trainAccuracy, testAccuracy: ev.accuracy, seconds: (Date.now() - epochStart) / 1000 });
  progress.epochLine(m.epoch, trainLoss, trainAccuracy, ev, best);
  m.epoch++;
  m.batch = 0;
  m.epochCorrect = 0;
  m.epochSeen = 0;
  run.lossSum.reset();
  run.correctSum.reset();
  if (best) run.save(run.files.best);
  run.save(run.files.last);
}
