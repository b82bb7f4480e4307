// train(options): RepMLPNet on Fashion-MNIST, CIFAR or an image folder with AdamW or SGD (weight decay on
// >= 2-d tensors only, as the reference recipe), a per-step cosine schedule with linear
// warm-up (learning rates optionally scaled by the batch size), label smoothing, optional
// mixup / CutMix, gradient accumulation, global-norm gradient clipping and an EMA of the
// weights. Each epoch trains, then evaluates top-1 and top-5 on the test split (of the EMA
// too); the run ends with Locality Injection and the deploy form's test accuracy beside
// the training form's.
//
// Files in `out`: config.json, metrics.jsonl (one JSON object per log line and per epoch),
// last.safetensors (end of every epoch and every `saveEvery` steps), best.safetensors (best
// test accuracy), best-ema.safetensors (the EMA's state dict at its best test accuracy,
// with the ema option), deploy.safetensors (the deploy-form state dict, reference key names);
// each safetensors file carries the run's model card (config, class names, preprocessing).
// `resume` continues from last.safetensors; on the CPU the resumed run repeats the
// uninterrupted one exactly (same batches, same Rng states, same optimizer and BN state).
// Every file is written atomically (lib/io/atomic.ts): a full disk stops the run with an
// error naming the file and leaves the previous checkpoint as it was. While the run lasts,
// `out/train.lock` (lib/io/lock.ts) keeps a second trainer out of the directory.
//
// Read-backs: the epoch's train loss and its count of correct predictions (correctCount) are
// summed on the device and read only when logging, drawing the progress line or saving, so
// a step queues its kernels without waiting for the GPU, and the EMA moves on the device;
// evaluate() reads each test batch's logits back for its top-5.
//
// The parts: options.ts, recipe-options.ts and folder-options.ts (defaults and checks),
// data.ts and folder-data.ts (the data: named data sets, image files, their loaders), run.ts
// (the model card, model, optimizer and the run directory's files), optimizer.ts, ema.ts, resume.ts,
// step.ts (one step), epoch.ts (an epoch's steps and its end), evaluate.ts and topk.ts,
// progress.ts (what is printed), parallel.ts and dist-options.ts (the ranks of a distributed
// run); this file puts them in order.
import { backend } from '../backend';
import { removeStaleTemps } from '../io/atomic';
import { lockDirectory, type DirLock } from '../io/lock';
import { openNamedData } from './data';
import { endEpoch, evaluateOn, stopRequested, trainBatches } from './epoch';
import { openFolderData } from './folder-data';
import { describeOptimizer } from './optimizer';
import { OP, resolveOptions, type Settings, type TrainOptions, type TrainSummary } from './options';
import { TrainParallel } from './parallel';
import { pct, Progress } from './progress';
import { startOrResume } from './resume';
import { planModel, TrainingRun } from './run';

export { limitDataset, loadData } from '../data/datasets';
export { evaluate } from './evaluate';
export { resolveConfig, type DataName, type ImageFolderOptions, type OptimizerName, type TrainOptions, type TrainSummary } from './options';
export { clipGradNorm } from './step';

/** A number in at most 6 significant digits (0.0005, not 0.0005000000000000001). */
const short = (x: number) => String(Number(x.toPrecision(6)));

/** The optimizer and its learning rates, scaled by the batch size when asked. */
function recipeLine(s: Settings): string {
  const rates = `lr ${short(s.lr)}, min lr ${short(s.minLr)}`;
  const scaled = s.lrScaleBatch === null ? ''
    : ` (given ${short(s.givenLr)} and ${short(s.givenMinLr)} for batch ${s.lrScaleBatch}, times ${s.batchSize * s.accumSteps} / ${s.lrScaleBatch} = ${short(s.lrScale)})`;
  return `optimizer: ${describeOptimizer(s)}; ${rates}${scaled}`;
}

/** Where the EMA stands in the recipe, and where its best weights go. */
function emaLine(run: TrainingRun): string {
  const { s } = run;
  return `EMA of the weights: decay ${s.emaDecay} every ${s.emaEvery} steps, a copy during the warm-up (${run.warmupSteps} steps); best EMA weights go to ${run.files.bestEma}`;
}

/** The world and how the batch is shared over it. */
function distributedLine(run: TrainingRun): string {
  const { world: w, size } = run.par;
  const bn = run.s.syncBatchNorm ? 'BatchNorm over the ranks' : 'BatchNorm per rank';
  return `distributed: ${size} ranks (${(w.version ?? w.engine).split(',')[0]}), ${run.s.batchSize / size} images per rank and step, ${bn}`;
}

/** The lines before the first step: the backend when it was chosen for the run, the model and the plan. */
function logStart(run: TrainingRun): void {
  const { s } = run;
  if (s.deviceOption === 'auto') run.log(`backend ${backend().reason}`);
  if (run.par.size > 1) run.log(distributedLine(run));
  const per = s.accumSteps === 1 ? `${s.batchSize}` : `${s.accumSteps} x ${s.batchSize} (accumulated)`;
  run.log(`model: ${run.model.constructor.name} ${s.archName}, ${run.model.parameterCount()} parameters, input ${run.inputSize}x${run.inputSize}, device ${s.device}; ` +
    `${s.epochs} epoch${s.epochs === 1 ? '' : 's'} x ${run.stepsPerEpoch} steps of ${per}; out ${s.out}`);
  run.log(recipeLine(s));
  if (run.ema) run.log(emaLine(run));
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
  const { model, s } = run;
  const m = run.meta;
  // A run resumed after its last epoch has no evaluation of this process to report.
  if (m.lastAccuracy < 0) {
    const ev = await evaluateOn(run, model);
    [m.lastAccuracy, m.lastTop5] = [ev.accuracy, ev.top5Accuracy];
  }
  const train = m.lastAccuracy;
  model.eval();
  model.localityInjection();
  run.writeWeights(run.files.deploy, model.stateDict(), 'deploy');
  const deployAccuracy = (await evaluateOn(run, model)).accuracy;
  run.log(`test accuracy: training form ${pct(train)}, deploy form ${pct(deployAccuracy)} (difference ${(100 * (deployAccuracy - train)).toFixed(2)} points)`);
  run.log(`wrote ${run.files.deploy}`);
  return { train, deploy: deployAccuracy };
}

/** The images that could not be decoded and were left out, and their files, over every rank. */
function skippedImages(run: TrainingRun): { images: number; files: string[] } {
  const each = run.par.gather(run.data.skipped());
  return { images: each.reduce((n, r) => n + r.images, 0), files: [...new Set(each.flatMap((r) => r.files))] };
}

/** The count of images left out, with a few of their files; null when none. */
function skippedLine({ images, files }: { images: number; files: string[] }): string | null {
  if (images === 0) return null;
  const shown = files.slice(0, 3).join(', ') + (files.length > 3 ? `, and ${files.length - 3} more` : '');
  return `skipped ${images} image${images === 1 ? '' : 's'} that could not be decoded (${files.length} file${files.length === 1 ? '' : 's'}: ${shown})`;
}

/** Trains the epochs and ends the run, in the locked run directory; returns the summary. */
async function runLocked(run: TrainingRun): Promise<TrainSummary> {
  const { s } = run;
  startOrResume(run);
  run.writeConfig();
  logStart(run);
  const start = Date.now();
  const progress = new Progress({ write: s.write, tty: s.tty, epochs: s.epochs, stepsPerEpoch: run.stepsPerEpoch, totalSteps: run.totalSteps });
  const stopped = await trainEpochs(run, progress);
  if (stopped) run.log(`stopped after step ${run.meta.step}; continue with resume (${run.files.last})`);
  const acc = stopped ? { train: run.meta.lastAccuracy, deploy: null } : await deploy(run);
  const skipped = skippedImages(run), line = skippedLine(skipped);
  if (line) run.log(line);
  const m = run.meta;
  return {
    testAccuracy: acc.train, deployTestAccuracy: acc.deploy, testTop5: m.lastTop5,
    emaTestAccuracy: run.ema ? m.lastEmaAccuracy : null, emaTestTop5: run.ema ? m.lastEmaTop5 : null,
    epochs: m.epoch, imagesPerSecond: progress.imagesPerSecond(), steps: m.step, seconds: (Date.now() - start) / 1000,
    out: s.out, dataSource: run.data.source, stopped, skippedImages: skipped.images, worldSize: run.par.size,
  };
}

/**
 * Trains on this process, or on every rank of the distributed world an MPI launcher started
 * (the distributed option): rank 0 alone prints and writes files, every rank returns the
 * summary.
 */
export async function train(options: TrainOptions = {}): Promise<TrainSummary> {
  const resolved = resolveOptions(options);
  const par = new TrainParallel(resolved);
  const s = par.isRank0 ? resolved : { ...resolved, write: () => undefined, tty: false, onMetrics: undefined };
  // The data and the model are checked before the run directory is touched; a named data
  // set is loaded without awaiting, so that a second trainer of this process finds the lock.
  const data = typeof s.data === 'string' ? openNamedData(s, s.data) : await openFolderData(s, s.data);
  const plan = planModel(s, data);
  let lock: DirLock | null = null;
  let run: TrainingRun | null = null;
  try {
    // The lock comes before any file of the run directory is read or written (rank 0 writes them).
    if (par.isRank0) {
      lock = lockDirectory(s.out, { op: OP, warn: s.warn });
      removeStaleTemps(s.out, { report: s.warn });
    }
    run = await TrainingRun.open(s, data, plan, par);
    const summary = await runLocked(run);
    if (s.json) s.write(JSON.stringify(summary) + '\n');
    return summary;
  } finally {
    try {
      await run?.close();
    } finally {
      lock?.release();
    }
  }
}
