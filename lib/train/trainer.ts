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
import * as fs from 'node:fs';
import * as path from 'node:path';
import { backend } from '../backend';
import { noGrad } from '../autograd';
import { tensor } from '../creation';
import { loadCifar10, loadCifar100 } from '../data/cifar';
import { loadFashionMnist } from '../data/fashion-mnist';
import { batchToTensors, DataLoader, type Batch, type ImageDataset } from '../data/loader';
import { describe, fail, RepmlpError } from '../errors';
import { preset, presetNames, type PresetName } from '../models/presets';
import { RepMLPNet, type RepMLPNetConfig } from '../models/repmlpnet';
import { add, mul } from '../ops/arithmetic';
import { correctCount } from '../ops/correct_count';
import { crossEntropy } from '../ops/cross_entropy';
import { mulScalar } from '../ops/scalar';
import { sum } from '../ops/sum';
import { AdamW } from '../optim/adamw';
import { splitWeightDecay } from '../optim/optimizer';
import { appendFileChecked, removeStaleTemps, writeFileAtomic } from '../io/atomic';
import { lockDirectory, type DirLock } from '../io/lock';
import { writeSafetensors } from '../safetensors';
import { keep, scope } from '../scope';
import type { Device, Tensor } from '../tensor';
import { checkOptimizerState, readCheckpoint, writeCheckpoint, type Checkpoint, type CheckpointMeta, type StateLayout } from './checkpoint';
import { cosineSchedule } from './schedule';

export type DataName = 'fashion-mnist' | 'cifar10' | 'cifar100';

export interface TrainOptions {
  /** a preset name or a config (default 'small'); a preset gets the data set's channels and classes */
  arch?: PresetName | RepMLPNetConfig;
  data?: DataName;
  /** the data directory (required for CIFAR; Fashion-MNIST is looked up as loadFashionMnist does) */
  dataDir?: string;
  epochs?: number;
  batchSize?: number;
  /** peak AdamW learning rate (default 2e-3) */
  lr?: number;
  /** learning rate at the last step (default 1e-5) */
  minLr?: number;
  /** decoupled weight decay on tensors of >= 2 dimensions (default 0.05) */
  weightDecay?: number;
  /** linear warm-up length in epochs, fractions allowed (default 1) */
  warmupEpochs?: number;
  /** the warm-up starts at lr * warmupStart (default 0.01) */
  warmupStart?: number;
  labelSmoothing?: number;
  /** Beta(a, a) strengths of mixup and CutMix (default 0: off) */
  mixup?: number;
  cutmix?: number;
  /** random crop (padding 2 for 28x28, 4 for 32x32) and horizontal flip (default true) */
  augment?: boolean;
  /** global gradient-norm limit (default 0: no clipping) */
  clipGrad?: number;
  seed?: number;
  /** 'auto' (the default): CUDA when usable, else the CPU (see backend()) */
  device?: Device | 'auto';
  /** the run directory (default runs/<data>-<arch>) */
  out?: string;
  resume?: boolean;
  /** print a JSON summary as the last line */
  json?: boolean;
  /** use only the first N training / test images */
  limitTrain?: number;
  limitTest?: number;
  /** log every N steps (default 20), save last.safetensors every N steps (default 200) */
  logEvery?: number;
  saveEvery?: number;
  /** stop (after saving last.safetensors) once this many steps are done in total */
  maxSteps?: number;
  /** render batches on a worker thread (default true) */
  prefetch?: boolean;
  /** where the progress goes (default process.stdout) and whether it is a terminal */
  write?: (text: string) => void;
  /** where warnings go: a stale lock taken over, stale temporary files removed (default process.stderr) */
  warn?: (text: string) => void;
  tty?: boolean;
  /** called with every record written to metrics.jsonl */
  onMetrics?: (record: Record<string, unknown>) => void;
  /** called after every step; returning true stops the run like maxSteps */
  shouldStop?: (step: number) => boolean;
}

export interface TrainSummary {
  /** top-1 test accuracy of the training form (fraction), and of the deploy form */
  testAccuracy: number;
  deployTestAccuracy: number | null;
  epochs: number;
  imagesPerSecond: number;
  steps: number;
  seconds: number;
  out: string;
  dataSource: string;
  /** true when maxSteps / shouldStop ended the run early (no deploy form then) */
  stopped: boolean;
}

interface Data {
  train: ImageDataset;
  test: ImageDataset;
  numClasses: number;
  mean: number[];
  std: number[];
  source: string;
  description: string;
}

const OP = 'train';

function posInt(name: string, v: unknown, dflt: number, min = 1): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) fail(OP, name, min === 1 ? 'a positive integer' : `an integer >= ${min}`, describe(v));
  return v as number;
}

function nonNeg(name: string, v: unknown, dflt: number, max = Infinity): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > max) fail(OP, name, max === Infinity ? 'a finite number >= 0' : `a number in [0, ${max}]`, describe(v));
  return v as number;
}

/** The first n images of a data set (all of them when n is undefined). */
export function limitDataset(d: ImageDataset, n: number | undefined): ImageDataset {
  if (n === undefined || n >= d.n) return d;
  const per = (d.c ?? 1) * d.h * d.w;
  return { ...d, n, images: d.images.subarray(0, n * per), labels: d.labels.subarray(0, n) };
}

/** Loads a data set with its normalisation and a line saying where it came from. */
export function loadData(name: DataName, dataDir?: string): Data {
  if (name === 'fashion-mnist') {
    const fm = loadFashionMnist({ dir: dataDir });
    const sizes = `${fm.train.n} train / ${fm.test.n} test images`;
    const description = fm.source === 'sample'
      ? `data: only the Fashion-MNIST sample shipped with repmlp (${sizes}) is available, so accuracies are not those of the full set; 'apt-get install dataset-fashion-mnist' installs the full set (60000 / 10000)`
      : `data: Fashion-MNIST from ${fm.dir}${fm.source === 'debian' ? " (Debian's dataset-fashion-mnist)" : ''}, ${sizes}`;
    return { train: fm.train, test: fm.test, numClasses: 10, mean: [0.286], std: [0.353], source: fm.source, description };
  }
  if (name === 'cifar10' || name === 'cifar100') {
    if (dataDir === undefined) fail(OP, 'dataDir', `the directory of the ${name} binary version`, 'none');
    const d = name === 'cifar10' ? loadCifar10(dataDir!) : loadCifar100(dataDir!);
    const [mean, std] = name === 'cifar10'
      ? [[0.4914, 0.4822, 0.4465], [0.247, 0.2435, 0.2616]]
      : [[0.5071, 0.4865, 0.4409], [0.2673, 0.2564, 0.2762]];
    return {
      train: d.train, test: d.test, numClasses: name === 'cifar10' ? 10 : 100, mean, std, source: 'dir',
      description: `data: ${name} from ${dataDir}, ${d.train.n} train / ${d.test.n} test images`,
    };
  }
  return fail(OP, 'data', "'fashion-mnist', 'cifar10' or 'cifar100'", describe(name));
}

/** The model config for `arch` on a data set of `channels` channels and `numClasses` classes. */
export function resolveConfig(arch: PresetName | RepMLPNetConfig, channels: number, numClasses: number): RepMLPNetConfig {
  if (typeof arch === 'string') {
    if (!(presetNames as string[]).includes(arch)) fail(OP, 'arch', `a preset (${presetNames.join(', ')}) or a config object`, describe(arch));
    return preset(arch, { inChannels: channels, numClasses });
  }
  if (typeof arch !== 'object' || arch === null) fail(OP, 'arch', 'a preset name or a config object', describe(arch));
  if (arch.inChannels !== channels) fail(OP, 'arch.inChannels', `${channels} (the data set's channels)`, describe(arch.inChannels));
  if (arch.numClasses !== numClasses) fail(OP, 'arch.numClasses', `${numClasses} (the data set's classes)`, describe(arch.numClasses));
  return { ...arch, deploy: false };
}

/**
 * Top-1 accuracy of `model` (switched to eval mode) over one pass of `loader`, with the
 * batches on `device` (default: where the model's parameters are); reads back once.
 */
export async function evaluate(model: RepMLPNet, loader: DataLoader, device?: Device): Promise<{ correct: number; total: number; accuracy: number }> {
  device ??= model.parameters()[0]?.device ?? 'cpu';
  model.eval();
  const correctSum = new DeviceSum(device);
  let total = 0;
  try {
    for await (const batch of loader.batches()) {
      scope(() => noGrad(() => correctSum.add(correctCount(model.forward(batchToTensors(batch, device).x), labelsOf(batch, device)))));
      total += batch.labels.length;
    }
    const correct = correctSum.read();
    return { correct, total, accuracy: total ? correct / total : 0 };
  } finally {
    correctSum.dispose();
  }
}

/** The batch's hard labels (int64) on the device. */
function labelsOf(batch: Batch, device: Device): Tensor {
  return tensor(batch.labels, [batch.labels.length], { device, dtype: 'int64' });
}

/**
 * A float32 running sum kept on the device, so that a training step adds to it without
 * waiting for the device; read() is the one place that does.
 */
class DeviceSum {
  private sum: Tensor;
  constructor(private readonly device: Device, start = 0) {
    this.sum = keep(tensor(Float32Array.of(start), [], { device }));
  }
  add(t: Tensor): void {
    noGrad(() => {
      const s = keep(add(this.sum, t));
      this.sum.dispose();
      this.sum = s;
    });
  }
  read(): number {
    return this.sum.item();
  }
  reset(start = 0): void {
    this.sum.dispose();
    this.sum = keep(tensor(Float32Array.of(start), [], { device: this.device }));
  }
  dispose(): void {
    this.sum.dispose();
  }
}

/** Scales the gradients in place so that their global L2 norm is at most maxNorm; returns the norm before. */
export function clipGradNorm(params: Tensor[], maxNorm: number): number {
  return noGrad(() => {
    const withGrad = params.filter((p) => p.grad);
    const norm = Math.sqrt(scope(() => {
      let acc: Tensor | null = null;
      for (const p of withGrad) {
        const s = sum(mul(p.grad!, p.grad!));
        acc = acc ? add(acc, s) : s;
      }
      return acc ? acc.item() : 0;
    }));
    if (norm > maxNorm) {
      const scale = maxNorm / (norm + 1e-6);
      for (const p of withGrad) {
        const g = keep(mulScalar(p.grad!, scale));
        p.grad!.dispose();
        p.grad = g;
      }
    }
    return norm;
  });
}

function duration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  s = Math.round(s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return h ? `${h}h${String(m).padStart(2, '0')}m` : m ? `${m}m${String(r).padStart(2, '0')}s` : `${r}s`;
}

const pct = (a: number) => `${(100 * a).toFixed(2)}%`;

export async function train(options: TrainOptions = {}): Promise<TrainSummary> {
  if (typeof options !== 'object' || options === null) fail(OP, 'options', 'an object', describe(options));
  const dataName = options.data ?? 'fashion-mnist';
  const epochs = posInt('epochs', options.epochs, 5);
  const batchSize = posInt('batchSize', options.batchSize, 64);
  const lr = nonNeg('lr', options.lr, 2e-3);
  const minLr = nonNeg('minLr', options.minLr, Math.min(1e-5, lr), lr);
  const weightDecay = nonNeg('weightDecay', options.weightDecay, 0.05);
  const warmupEpochs = nonNeg('warmupEpochs', options.warmupEpochs, 1);
  const warmupStart = nonNeg('warmupStart', options.warmupStart, 0.01, 1);
  const labelSmoothing = nonNeg('labelSmoothing', options.labelSmoothing, 0.1, 1);
  const mixup = nonNeg('mixup', options.mixup, 0);
  const cutmix = nonNeg('cutmix', options.cutmix, 0);
  const clipGrad = nonNeg('clipGrad', options.clipGrad, 0);
  const seed = posInt('seed', options.seed, 0, 0);
  const logEvery = posInt('logEvery', options.logEvery, 20);
  const saveEvery = posInt('saveEvery', options.saveEvery, 200);
  const maxSteps = options.maxSteps === undefined ? Infinity : posInt('maxSteps', options.maxSteps, 1);
  const augment = options.augment ?? true;
  const deviceOption = options.device ?? 'auto';
  if (deviceOption !== 'auto' && deviceOption !== 'cpu' && deviceOption !== 'cuda') fail(OP, 'device', "'auto', 'cpu' or 'cuda'", describe(deviceOption));
  const device: Device = deviceOption === 'auto' ? backend().device : deviceOption;
  const arch = options.arch ?? 'small';
  const archName = typeof arch === 'string' ? arch : 'custom';
  const out = path.resolve(options.out ?? path.join('runs', `${dataName}-${archName}`));
  const write = options.write ?? ((t: string) => void process.stdout.write(t));
  const warn = options.warn ?? ((t: string) => void process.stderr.write(t));
  const tty = options.tty ?? (options.write === undefined && process.stdout.isTTY === true);
  const prefetch = options.prefetch ?? true;

  const data = loadData(dataName, options.dataDir);
  const trainSet = limitDataset(data.train, options.limitTrain === undefined ? undefined : posInt('limitTrain', options.limitTrain, 1));
  const testSet = limitDataset(data.test, options.limitTest === undefined ? undefined : posInt('limitTest', options.limitTest, 1));
  const channels = data.train.c ?? 1;
  const config = resolveConfig(arch, channels, data.numClasses);
  const inputSize = config.hs[0] * config.patchSize;
  if (inputSize < data.train.h)
    fail(OP, 'arch', `a model for inputs of at least ${data.train.h} x ${data.train.w} (hs[0] * patchSize)`, `one for ${inputSize} x ${inputSize}`);
  const cropPadding = augment ? (data.train.h <= 28 ? 2 : 4) : 0;
  const common = { mean: data.mean, std: data.std, padTo: inputSize, numClasses: data.numClasses, prefetch };
  const trainLoader = new DataLoader(trainSet, {
    ...common, batchSize, shuffle: true, seed, cropPadding, flip: augment, mixupAlpha: mixup, cutmixAlpha: cutmix,
  });
  const testLoader = new DataLoader(testSet, { ...common, batchSize, shuffle: false });
  const stepsPerEpoch = trainLoader.numBatches;
  const totalSteps = epochs * stepsPerEpoch;
  const schedule = cosineSchedule({ lr, minLr, totalSteps, warmupSteps: Math.min(totalSteps, Math.round(warmupEpochs * stepsPerEpoch)), warmupStart });
  // What a resumed run must agree on (functions and run-control options left out).
  const recorded = {
    arch: archName, data: dataName, dataDir: options.dataDir ?? null, epochs, batchSize, lr, minLr, weightDecay, warmupEpochs, warmupStart,
    labelSmoothing, mixup, cutmix, augment, clipGrad, seed, limitTrain: trainSet.n, limitTest: testSet.n,
  };

  const model = new RepMLPNet(config, { seed, device });
  const opt = new AdamW(splitWeightDecay(model.parameters(), weightDecay), { lr, weightDecay });
  // Summed on the device over the epoch; read back only when logging or saving.
  const lossSum = new DeviceSum(device), correctSum = new DeviceSum(device);
  const metricsFile = path.join(out, 'metrics.jsonl');
  const lastFile = path.join(out, 'last.safetensors');
  let meta: CheckpointMeta = {
    epoch: 0, batch: 0, step: 0, loader: trainLoader.state(), bestAccuracy: -1, lastAccuracy: -1,
    epochLoss: 0, epochCorrect: 0, epochSeen: 0, config, options: recorded,
  };
  const log = (line: string) => write(line + '\n');
  const record = (r: Record<string, unknown>) => {
    appendFileChecked(metricsFile, JSON.stringify(r) + '\n', OP);
    options.onMetrics?.(r);
  };
  const save = (file: string) => {
    const m = { ...meta, loader: trainLoader.state(), epochLoss: lossSum.read(), epochCorrect: correctSum.read() };
    writeCheckpoint(file, { model: model.stateDict(), optimizer: opt.stateDict(), meta: m });
  };

  let lock: DirLock | null = null;
  try {
    // The lock comes before any file of the run directory is read or written.
    lock = lockDirectory(out, { op: OP, warn });
    removeStaleTemps(out, { report: warn });
    log(data.description);
    if (options.resume && fs.existsSync(lastFile)) {
      const ck = readCheckpoint<import('../optim/adamw').AdamWHyper>(lastFile);
      if (JSON.stringify(ck.meta.config) !== JSON.stringify(config) || JSON.stringify(ck.meta.options) !== JSON.stringify(recorded))
        throw new RepmlpError(`train: expected ${lastFile} to come from a run with the same config and options but it differs (saved options ${JSON.stringify(ck.meta.options)}); use another --out or drop --resume`);
      checkResumeState(lastFile, ck, model, opt);
      inFile(lastFile, () => model.loadStateDict(ck.model));
      inFile(lastFile, () => opt.loadStateDict(ck.optimizer));
      trainLoader.setState(ck.meta.loader);
      meta = ck.meta;
      lossSum.reset(meta.epochLoss);
      correctSum.reset(meta.epochCorrect);
      // Records written after the checkpoint are repeated by this run.
      const kept = fs.existsSync(metricsFile) ? metricsUpTo(metricsFile, meta.step) : [];
      writeFileAtomic(metricsFile, kept.map((l) => l + '\n').join(''), OP);
      log(`resuming from ${lastFile}: epoch ${meta.epoch + 1}, batch ${meta.batch}/${stepsPerEpoch}, step ${meta.step}`);
    } else {
      if (options.resume) log(`no ${lastFile} yet: starting from scratch`);
      writeFileAtomic(metricsFile, '', OP);
    }
    writeFileAtomic(path.join(out, 'config.json'), JSON.stringify({ config, options: recorded }, null, 2) + '\n', OP);
    if (deviceOption === 'auto') log(`backend ${backend().reason}`);
    log(`model: RepMLPNet ${archName}, ${model.parameterCount()} parameters, input ${inputSize}x${inputSize}, device ${device}; ` +
      `${epochs} epoch${epochs === 1 ? '' : 's'} x ${stepsPerEpoch} steps of ${batchSize}; out ${out}`);

    const start = Date.now();
    let trainSeconds = 0, trainImages = 0, stepsThisRun = 0;
    let lastLoss = NaN, stopped = false;
    let windowStart = Date.now(), windowImages = 0, lastDraw = 0;
    while (meta.epoch < epochs && !stopped) {
      model.train();
      const epoch = meta.epoch;
      const epochStart = Date.now();
      while (meta.batch < stepsPerEpoch) {
        const t0 = Date.now();
        const batch = await trainLoader.next();
        const rate = schedule(meta.step);
        opt.lr = rate;
        scope(() => {
          opt.zeroGrad();
          const { x, y } = batchToTensors(batch, device);
          const z = model.forward(x);
          const loss = crossEntropy(z, y, { labelSmoothing });
          loss.backward();
          if (clipGrad > 0) clipGradNorm(model.parameters(), clipGrad);
          opt.step();
          lossSum.add(loss);
          correctSum.add(correctCount(z, y.dtype === 'int64' ? y : labelsOf(batch, device)));
        });
        opt.zeroGrad();
        const B = batch.labels.length;
        meta.epochSeen += B;
        meta.batch++;
        meta.step++;
        stepsThisRun++;
        trainImages += B;
        windowImages += B;
        trainSeconds += (Date.now() - t0) / 1000;
        const endOfEpoch = meta.batch === stepsPerEpoch;
        if (meta.step % logEvery === 0 || endOfEpoch) {
          const epochLoss = lossSum.read();
          meta.epochCorrect = correctSum.read();
          lastLoss = epochLoss / meta.batch;
          const secs = Math.max(1e-3, (Date.now() - windowStart) / 1000);
          const ips = windowImages / secs;
          record({ type: 'step', step: meta.step, epoch: epoch + 1, loss: lastLoss, lr: rate, imgsPerSec: Number(ips.toFixed(1)) });
          if (!tty)
            log(`epoch ${epoch + 1}/${epochs} step ${meta.batch}/${stepsPerEpoch} (${meta.step}) loss ${lastLoss.toFixed(4)} ` +
              `acc ${pct(meta.epochCorrect / meta.epochSeen)} lr ${rate.toExponential(2)} ${ips.toFixed(0)} img/s`);
          windowStart = Date.now();
          windowImages = 0;
        }
        if (tty && (Date.now() - lastDraw > 100 || endOfEpoch)) {
          lastDraw = Date.now();
          meta.epochCorrect = correctSum.read();
          const eta = ((totalSteps - meta.step) * trainSeconds) / stepsThisRun;
          write(`\repoch ${epoch + 1}/${epochs} step ${meta.batch}/${stepsPerEpoch} loss ${Number.isNaN(lastLoss) ? '-' : lastLoss.toFixed(4)} ` +
            `acc ${pct(meta.epochCorrect / meta.epochSeen)} ${(trainImages / Math.max(trainSeconds, 1e-3)).toFixed(0)} img/s ETA ${duration(eta)}   `);
        }
        if (meta.step % saveEvery === 0 && !endOfEpoch) save(lastFile);
        if (!endOfEpoch && (meta.step >= maxSteps || options.shouldStop?.(meta.step) === true)) {
          if (meta.step % saveEvery !== 0) save(lastFile);
          stopped = true;
          break;
        }
      }
      if (stopped) break;
      if (tty) write('\n');
      const ev = await evaluate(model, testLoader, device);
      const trainLoss = lossSum.read() / stepsPerEpoch;
      meta.epochCorrect = correctSum.read();
      const trainAcc = meta.epochCorrect / meta.epochSeen;
      meta.lastAccuracy = ev.accuracy;
      const best = ev.accuracy > meta.bestAccuracy;
      if (best) meta.bestAccuracy = ev.accuracy;
      record({ type: 'epoch', step: meta.step, epoch: epoch + 1, trainLoss, trainAccuracy: trainAcc, testAccuracy: ev.accuracy, seconds: (Date.now() - epochStart) / 1000 });
      log(`epoch ${epoch + 1}/${epochs}: train loss ${trainLoss.toFixed(4)}, train acc ${pct(trainAcc)}, test acc ${pct(ev.accuracy)} ` +
        `(${ev.correct}/${ev.total})${best ? ', best so far' : ''}`);
      meta.epoch++;
      meta.batch = 0;
      meta.epochCorrect = 0;
      meta.epochSeen = 0;
      lossSum.reset();
      correctSum.reset();
      if (best) save(path.join(out, 'best.safetensors'));
      save(lastFile);
      if (meta.step >= maxSteps || options.shouldStop?.(meta.step) === true) stopped = meta.epoch < epochs;
    }

    let deployAcc: number | null = null;
    let testAcc = meta.lastAccuracy;
    if (!stopped) {
      if (testAcc < 0) testAcc = (await evaluate(model, testLoader, device)).accuracy;
      model.eval();
      model.localityInjection();
      writeSafetensors(path.join(out, 'deploy.safetensors'), model.stateDict(), { metadata: { format: 'pt', arch: archName, form: 'deploy' } });
      const ev = await evaluate(model, testLoader, device);
      deployAcc = ev.accuracy;
      log(`test accuracy: training form ${pct(testAcc)}, deploy form ${pct(deployAcc)} (difference ${(100 * (deployAcc - testAcc)).toFixed(2)} points)`);
      log(`wrote ${path.join(out, 'deploy.safetensors')}`);
    } else {
      log(`stopped after step ${meta.step}; continue with resume (${lastFile})`);
    }
    const summary: TrainSummary = {
      testAccuracy: testAcc, deployTestAccuracy: deployAcc, epochs: meta.epoch, imagesPerSecond: trainSeconds > 0 ? trainImages / trainSeconds : 0,
      steps: meta.step, seconds: (Date.now() - start) / 1000, out, dataSource: data.source, stopped,
    };
    if (options.json) write(JSON.stringify(summary) + '\n');
    return summary;
  } finally {
    try {
      lossSum.dispose();
      correctSum.dispose();
      await trainLoader.close();
      await testLoader.close();
      opt.dispose();
      model.dispose();
    } finally {
      lock?.release();
    }
  }
}

/** AdamW's per-parameter state: a step count and two moments of the parameter's shape. */
const ADAMW_STATE: StateLayout = { step: 'count', exp_avg: 'param', exp_avg_sq: 'param' };

/** Checks that a checkpoint's optimizer state fits this model's optimizer, naming the parameter at fault. */
function checkResumeState(file: string, ck: Checkpoint, model: RepMLPNet, opt: AdamW): void {
  const names = new Map(model.namedParameters().map(([n, t]) => [t, n]));
  const params = opt.paramGroups.flatMap((g) => g.params).map((p) => ({ name: names.get(p) ?? '?', shape: p.shape }));
  checkOptimizerState(file, ck.optimizer, params, opt.paramGroups.map((g) => g.params.length), ck.meta.step, ADAMW_STATE, OP);
}

/** Runs fn; a RepmlpError it throws names `file` (what was being loaded) first. */
function inFile<T>(file: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof RepmlpError) throw new RepmlpError(`${OP}: ${file}: ${e.message}`);
    throw e;
  }
}

/**
 * The lines of a metrics log up to `step`. A last line cut short (a process killed while
 * appending) is dropped; a broken line before it is an error naming the file and the line.
 */
function metricsUpTo(file: string, step: number): string[] {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const kept: string[] = [];
  lines.forEach((l, i) => {
    if (!l) return;
    let r: { step?: unknown };
    try {
      r = JSON.parse(l) as { step?: unknown };
    } catch {
      if (lines.slice(i + 1).every((x) => x === '')) return;
      throw new RepmlpError(`${OP}: expected one JSON record per line in ${file} but line ${i + 1} is ${JSON.stringify(l.slice(0, 60))}`);
    }
    if (typeof r.step === 'number' && r.step <= step) kept.push(l);
  });
  return kept;
}
