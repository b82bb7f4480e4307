// train(options): RepMLPNet on Fashion-MNIST or CIFAR with AdamW (weight decay on >= 2-d
// tensors only, as the reference recipe), a per-step cosine schedule with linear warm-up,
// label smoothing, optional mixup / CutMix and global-norm gradient clipping. Each epoch
// trains, then evaluates top-1 on the test split; the run ends with Locality Injection and
// the deploy form's test accuracy beside the training form's.
//
// Files in `out`: config.json, metrics.jsonl (one JSON object per log line and per epoch),
// last.safetensors (end of every epoch and every `saveEvery` steps), best.safetensors (best
// test accuracy), deploy.safetensors (the deploy-form state dict, reference key names).
// `resume` continues from last.safetensors; on the CPU the resumed run repeats the
// uninterrupted one exactly (same batches, same Rng states, same optimizer and BN state).
// Every file is written atomically (lib/io/atomic.ts): a full disk stops the run with an
// error naming the file and leaves the previous checkpoint as it was. While the run lasts,
// `out/train.lock` (lib/io/lock.ts) keeps a second trainer out of the directory.
//
// Read-backs: the epoch's train loss and its count of correct predictions (correctCount) are
// summed on the device and read only when logging, drawing the progress line or saving, so
// a step queues its kernels without waiting for the GPU; evaluate() reads back once.
//
// The parts: options.ts (defaults and checks), run.ts (data, loaders, model, optimizer and
// the run directory's files), resume.ts, step.ts (one step), epoch.ts (an epoch's batches
// and its end), evaluate.ts, progress.ts (what is printed); this file puts them in order.
import { backend } from '../backend';
import { removeStaleTemps } from '../io/atomic';
import { lockDirectory, type DirLock } from '../io/lock';
import { writeSafetensors } from '../io/safetensors';
import { endEpoch, stopRequested, trainBatches } from './epoch';
import { evaluate } from './evaluate';
import { OP, resolveOptions, type TrainOptions, type TrainSummary } from './options';
import { pct, Progress } from './progress';
import { startOrResume } from './resume';
import { TrainingRun } from './run';

export { limitDataset, loadData } from '../data/datasets';
export { evaluate } from './evaluate';
export { resolveConfig, type DataName, type TrainOptions, type TrainSummary } from './options';
export { clipGradNorm } from './step';

/** The lines before the first step: the backend when it was chosen for the run, the model and the plan. */
function logStart(run: TrainingRun): void {
  const { s } = run;
  if (s.deviceOption === 'auto') run.log(`backend ${backend().reason}`);
  run.log(`model: RepMLPNet ${s.archName}, ${run.model.parameterCount()} parameters, input ${run.inputSize}x${run.inputSize}, device ${s.device}; ` +
    `${s.epochs} epoch${s.epochs === 1 ? '' : 's'} x ${run.stepsPerEpoch} steps of ${s.batchSize}; out ${s.out}`);
}

/** Trains the epochs left; returns true when maxSteps / shouldStop ended the run early. */
async function trainEpochs(run: TrainingRun, progress: Progress): Promise<boolean> {
  while (run.meta.epoch < run.s.epochs) {
    run.model.train();
    const epochStart = Date.now();
    if (await trainBatches(run, progress)) return true;
    await endEpoch(run, progress, epochStart);
    if (stopRequested(run)) return run.meta.epoch < run.s.epochs;
  }
  return false;
}

/**
 * After the last epoch: Locality Injection, deploy.safetensors, and the test accuracy of
 * both forms. Returns the training form's accuracy and the deploy form's.
 */
async function deploy(run: TrainingRun): Promise<{ train: number; deploy: number }> {
  const { model, testLoader, s } = run;
  let train = run.meta.lastAccuracy;
  // A run resumed after its last epoch has no evaluation of this process to report.
  if (train < 0) train = (await evaluate(model, testLoader, s.device)).accuracy;
  model.eval();
  model.localityInjection();
  writeSafetensors(run.files.deploy, model.stateDict(), { metadata: { format: 'pt', arch: s.archName, form: 'deploy' } });
  const deployAccuracy = (await evaluate(model, testLoader, s.device)).accuracy;
  run.log(`test accuracy: training form ${pct(train)}, deploy form ${pct(deployAccuracy)} (difference ${(100 * (deployAccuracy - train)).toFixed(2)} points)`);
  run.log(`wrote ${run.files.deploy}`);
  return { train, deploy: deployAccuracy };
}

/** Trains the epochs and ends the run, in the locked run directory; returns the summary. */
async function runLocked(run: TrainingRun): Promise<TrainSummary> {
  const { s } = run;
  run.log(run.data.description);
  startOrResume(run);
  run.writeConfig();
  logStart(run);
  const start = Date.now();
  const progress = new Progress({ write: s.write, tty: s.tty, epochs: s.epochs, stepsPerEpoch: run.stepsPerEpoch, totalSteps: run.totalSteps });
  const stopped = await trainEpochs(run, progress);
  if (stopped) run.log(`stopped after step ${run.meta.step}; continue with resume (${run.files.last})`);
  const acc = stopped ? { train: run.meta.lastAccuracy, deploy: null } : await deploy(run);
  return {
    testAccuracy: acc.train, deployTestAccuracy: acc.deploy, epochs: run.meta.epoch, imagesPerSecond: progress.imagesPerSecond(),
    steps: run.meta.step, seconds: (Date.now() - start) / 1000, out: s.out, dataSource: run.data.source, stopped,
  };
}

export async function train(options: TrainOptions = {}): Promise<TrainSummary> {
  const s = resolveOptions(options);
  const run = new TrainingRun(s);
  let lock: DirLock | null = null;
  try {
    // The lock comes before any file of the run directory is read or written.
    lock = lockDirectory(s.out, { op: OP, warn: s.warn });
    removeStaleTemps(s.out, { report: s.warn });
    const summary = await runLocked(run);
    if (s.json) s.write(JSON.stringify(summary) + '\n');
    return summary;
  } finally {
    try {
      await run.close();
    } finally {
      lock?.release();
    }
  }
}
