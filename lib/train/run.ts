// One training run's state, built from its settings: the data and its two loaders, the
// model, its optimizer and the EMA of its weights, the learning-rate schedule (per
// optimizer step, each of accumSteps micro-batches), the epoch's running sums (kept on the
// device, read back only when logging or saving), where the run stands (RunMeta,
// what last.safetensors records), and the files of the run directory with the writes to
// them (by rank 0 alone, the other ranks of a distributed run waiting for it: parallel.ts).
import * as path from 'node:path';
import { limitDataset, loadData, type LoadedData } from '../data/datasets';
import { DataLoader, type ImageDataset } from '../data/loader';
import { fail } from '../errors';
import { appendFileChecked, writeFileAtomic } from '../io/atomic';
import { writeSafetensors } from '../io/safetensors';
import { RepMLPNet, type RepMLPNetConfig } from '../models/repmlpnet';
import type { Tensor } from '../tensor';
import { writeCheckpoint, type RunMeta } from './checkpoint';
import { DeviceSum } from './device-sum';
import { emaDecayAt, WeightEma } from './ema';
import { baseOptimizer, makeOptimizer, type TrainOptimizer } from './optimizer';
import { recordedDist } from './dist-options';
import { OP, recordedOptions, resolveConfig, type Settings } from './options';
import type { TrainParallel } from './parallel';
import { cosineSchedule } from './schedule';

/** The files of a run directory. */
export interface RunFiles {
  config: string;
  metrics: string;
  last: string;
  best: string;
  /** the EMA's state dict at its best test accuracy (training form, reference key names) */
  bestEma: string;
  deploy: string;
}

export function runFiles(out: string): RunFiles {
  const at = (name: string) => path.join(out, name);
  return {
    config: at('config.json'), metrics: at('metrics.jsonl'), last: at('last.safetensors'), best: at('best.safetensors'), bestEma: at('best-ema.safetensors'),
    deploy: at('deploy.safetensors'),
  };
}

/** The config, checked against the data: the model must take inputs at least as large as the images. */
function modelConfig(s: Settings, data: LoadedData): { config: RepMLPNetConfig; inputSize: number } {
  const config = resolveConfig(s.arch, data.train.c ?? 1, data.numClasses);
  const inputSize = config.hs[0] * config.patchSize;
  if (inputSize < data.train.h)
    fail(OP, 'arch', `a model for inputs of at least ${data.train.h} x ${data.train.w} (hs[0] * patchSize)`, `one for ${inputSize} x ${inputSize}`);
  return { config, inputSize };
}

/**
 * The training loader (shuffled, augmented) and the test loader, both padded to the model's
 * input size, each yielding this rank's share of every global batch (every rank needs images
 * to train on; a rank may have none in the test set's last batch).
 */
function loaders(s: Settings, data: LoadedData, sets: { train: ImageDataset; test: ImageDataset }, inputSize: number, par: TrainParallel): { train: DataLoader; test: DataLoader } {
  const cropPadding = s.augment ? (data.train.h <= 28 ? 2 : 4) : 0;
  const common = { mean: data.mean, std: data.std, padTo: inputSize, numClasses: data.numClasses, prefetch: s.prefetch, batchSize: s.batchSize };
  return {
    train: new DataLoader(sets.train, {
      ...common, shuffle: true, seed: s.seed, cropPadding, flip: s.augment, mixupAlpha: s.mixup, cutmixAlpha: s.cutmix, shard: par.shard(1),
    }),
    test: new DataLoader(sets.test, { ...common, shuffle: false, shard: par.shard(0) }),
  };
}

/** Optimizer steps: per epoch (the last may take fewer micro-batches), in all, and of the warm-up. */
function stepCounts(s: Settings, batchesPerEpoch: number): { stepsPerEpoch: number; totalSteps: number; warmupSteps: number } {
  const stepsPerEpoch = Math.ceil(batchesPerEpoch / s.accumSteps);
  const totalSteps = s.epochs * stepsPerEpoch;
  return { stepsPerEpoch, totalSteps, warmupSteps: Math.min(totalSteps, Math.round(s.warmupEpochs * stepsPerEpoch)) };
}

function startMeta(config: RepMLPNetConfig, recorded: Record<string, unknown>, loader: DataLoader): RunMeta {
  return {
    epoch: 0, batch: 0, step: 0, loader: loader.state(), bestAccuracy: -1, lastAccuracy: -1, lastTop5: -1,
    bestEmaAccuracy: -1, lastEmaAccuracy: -1, lastEmaTop5: -1, epochLoss: 0, epochCorrect: 0, epochSeen: 0, config, options: recorded,
  };
}

export class TrainingRun {
  readonly data: LoadedData;
  readonly config: RepMLPNetConfig;
  readonly inputSize: number;
  readonly trainLoader: DataLoader;
  readonly testLoader: DataLoader;
  /** micro-batches (loader batches) per epoch, and optimizer steps per epoch, in all and of the warm-up */
  readonly batchesPerEpoch: number;
  readonly stepsPerEpoch: number;
  readonly totalSteps: number;
  readonly warmupSteps: number;
  readonly schedule: (step: number) => number;
  /** the options a resumed run must agree on */
  readonly recorded: Record<string, unknown>;
  readonly model: RepMLPNet;
  readonly opt: TrainOptimizer;
  /** the EMA of the model's weights; null unless the ema option is on */
  readonly ema: WeightEma | null;
  readonly lossSum: DeviceSum;
  readonly correctSum: DeviceSum;
  readonly files: RunFiles;
  meta: RunMeta;

  /**
   * Loads the data and builds the loaders, the model (rank 0's weights on every rank), its
   * optimizer and EMA; nothing is written yet.
   */
  constructor(readonly s: Settings, readonly par: TrainParallel) {
    this.data = loadData(s.data, s.dataDir, OP);
    ({ config: this.config, inputSize: this.inputSize } = modelConfig(s, this.data));
    const sets = { train: limitDataset(this.data.train, s.limitTrain), test: limitDataset(this.data.test, s.limitTest) };
    ({ train: this.trainLoader, test: this.testLoader } = loaders(s, this.data, sets, this.inputSize, par));
    this.batchesPerEpoch = this.trainLoader.numBatches;
    ({ stepsPerEpoch: this.stepsPerEpoch, totalSteps: this.totalSteps, warmupSteps: this.warmupSteps } = stepCounts(s, this.batchesPerEpoch));
    this.schedule = cosineSchedule({ lr: s.lr, minLr: s.minLr, totalSteps: this.totalSteps, warmupSteps: this.warmupSteps, warmupStart: s.warmupStart });
    this.recorded = { ...recordedOptions(s, sets.train.n, sets.test.n), ...recordedDist(s, par.size) };
    this.model = new RepMLPNet(this.config, { seed: s.seed, device: s.device });
    par.attach(this.model);
    this.opt = makeOptimizer(this.model.parameters(), s);
    this.ema = s.ema ? new WeightEma(this.model) : null;
    const sum = (t: Tensor) => par.readSum(t);
    this.lossSum = new DeviceSum(s.device, 0, sum);
    this.correctSum = new DeviceSum(s.device, 0, sum);
    this.files = runFiles(s.out);
    this.meta = startMeta(this.config, this.recorded, this.trainLoader);
  }

  log(line: string): void {
    this.s.write(line + '\n');
  }

  /** Appends a record to metrics.jsonl and hands it to onMetrics (rank 0). */
  record(r: Record<string, unknown>): void {
    if (!this.par.isRank0) return;
    appendFileChecked(this.files.metrics, JSON.stringify(r) + '\n', OP);
    this.s.onMetrics?.(r);
  }

  /** Runs a write on rank 0; every rank goes on once it is done. */
  rank0Writes(write: () => void): void {
    if (this.par.isRank0) write();
    this.par.barrier();
  }

  /** Optimizer steps done in the epoch in progress (its micro-batches done, in steps). */
  stepsInEpoch(): number {
    return Math.ceil(this.meta.batch / this.s.accumSteps);
  }

  /** Moves the EMA after the optimizer step just counted in meta.step, when one is due. */
  updateEma(): void {
    if (!this.ema) return;
    const decay = emaDecayAt(this.meta.step, { decay: this.s.emaDecay, every: this.s.emaEvery, warmupSteps: this.warmupSteps });
    if (decay !== null) this.ema.update(decay);
  }

  /** Writes a checkpoint of where the run stands (the epoch's sums read back from the device). */
  save(file: string): void {
    const meta = { ...this.meta, loader: this.trainLoader.state(), epochLoss: this.lossSum.read(), epochCorrect: this.correctSum.read() };
    this.rank0Writes(() =>
      writeCheckpoint(file, { model: this.model.stateDict(), ema: this.ema?.stateDict() ?? null, optimizer: baseOptimizer(this.opt).stateDict(), meta }));
  }

  /** Writes the EMA's state dict, a plain training-form state dict, to best-ema.safetensors. */
  saveBestEma(): void {
    const ema = this.ema;
    if (ema) this.rank0Writes(() => writeSafetensors(this.files.bestEma, ema.stateDict(), { metadata: { format: 'pt', arch: this.s.archName, form: 'train' } }));
  }

  /** Continues from a checkpoint's position (its model, EMA and optimizer state are loaded by the caller). */
  restore(meta: RunMeta): void {
    this.trainLoader.setState(meta.loader);
    this.meta = meta;
    // the sums over the ranks, kept by rank 0
    this.lossSum.reset(this.par.startOf(meta.epochLoss));
    this.correctSum.reset(this.par.startOf(meta.epochCorrect));
  }

  writeConfig(): void {
    this.rank0Writes(() => writeFileAtomic(this.files.config, JSON.stringify({ config: this.config, options: this.recorded }, null, 2) + '\n', OP));
  }

  /** Frees the device memory and stops the loaders' workers. */
  async close(): Promise<void> {
    this.lossSum.dispose();
    this.correctSum.dispose();
    await this.trainLoader.close();
    await this.testLoader.close();
    this.opt.dispose();
    this.ema?.dispose();
    this.model.dispose();
  }
}
