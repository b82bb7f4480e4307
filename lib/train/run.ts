// One training run's state, built from its settings: the data and its two loaders, the
// model, its optimizer and the EMA of its weights, the learning-rate schedule (per
// optimizer step, each of accumSteps micro-batches), the epoch's running sums (kept on the
// device, read back only when logging or saving), where the run stands (RunMeta,
// what last.safetensors records), and the files of the run directory with the writes to
// them.
import * as path from 'node:path';
import { limitDataset, loadData, type LoadedData } from '../data/datasets';
import { DataLoader, type ImageDataset } from '../data/loader';
import { fail } from '../errors';
import { appendFileChecked, writeFileAtomic } from '../io/atomic';
import { writeSafetensors } from '../io/safetensors';
import { buildModel, squareInputSize, type Classifier, type ModelConfig } from '../models/families';
import { writeCheckpoint, type RunMeta } from './checkpoint';
import { DeviceSum } from './device-sum';
import { emaDecayAt, WeightEma } from './ema';
import { baseOptimizer, makeOptimizer, type TrainOptimizer } from './optimizer';
import { OP, recordedOptions, resolveConfig, type Settings } from './options';
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
function modelConfig(s: Settings, data: LoadedData): { config: ModelConfig; inputSize: number } {
  const config = resolveConfig(s.arch, data.train.c ?? 1, data.numClasses);
  const inputSize = squareInputSize(config, OP);
  if (inputSize < data.train.h)
    fail(OP, 'arch', `a model for inputs of at least ${data.train.h} x ${data.train.w}`, `one for ${inputSize} x ${inputSize}`);
  return { config, inputSize };
}

/** The training loader (shuffled, augmented) and the test loader, both padded to the model's input size. */
function loaders(s: Settings, data: LoadedData, sets: { train: ImageDataset; test: ImageDataset }, inputSize: number): { train: DataLoader; test: DataLoader } {
  const cropPadding = s.augment ? (data.train.h <= 28 ? 2 : 4) : 0;
  const common = { mean: data.mean, std: data.std, padTo: inputSize, numClasses: data.numClasses, prefetch: s.prefetch, batchSize: s.batchSize };
  return {
    train: new DataLoader(sets.train, {
      ...common, shuffle: true, seed: s.seed, cropPadding, flip: s.augment, mixupAlpha: s.mixup, cutmixAlpha: s.cutmix,
    }),
    test: new DataLoader(sets.test, { ...common, shuffle: false }),
  };
}

/** Optimizer steps: per epoch (the last may take fewer micro-batches), in all, and of the warm-up. */
function stepCounts(s: Settings, batchesPerEpoch: number): { stepsPerEpoch: number; totalSteps: number; warmupSteps: number } {
  const stepsPerEpoch = Math.ceil(batchesPerEpoch / s.accumSteps);
  const totalSteps = s.epochs * stepsPerEpoch;
  return { stepsPerEpoch, totalSteps, warmupSteps: Math.min(totalSteps, Math.round(s.warmupEpochs * stepsPerEpoch)) };
}

function startMeta(config: ModelConfig, recorded: Record<string, unknown>, loader: DataLoader): RunMeta {
  return {
    epoch: 0, batch: 0, step: 0, loader: loader.state(), bestAccuracy: -1, lastAccuracy: -1, lastTop5: -1,
    bestEmaAccuracy: -1, lastEmaAccuracy: -1, lastEmaTop5: -1, epochLoss: 0, epochCorrect: 0, epochSeen: 0, config, options: recorded,
  };
}

export class TrainingRun {
  readonly data: LoadedData;
  readonly config: ModelConfig;
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
  readonly model: Classifier;
  readonly opt: TrainOptimizer;
  /** the EMA of the model's weights; null unless the ema option is on */
  readonly ema: WeightEma | null;
  readonly lossSum: DeviceSum;
  readonly correctSum: DeviceSum;
  readonly files: RunFiles;
  meta: RunMeta;

  /** Loads the data and builds the loaders, the model, its optimizer and EMA; nothing is written yet. */
  constructor(readonly s: Settings) {
    this.data = loadData(s.data, s.dataDir, OP);
    ({ config: this.config, inputSize: this.inputSize } = modelConfig(s, this.data));
    const sets = { train: limitDataset(this.data.train, s.limitTrain), test: limitDataset(this.data.test, s.limitTest) };
    ({ train: this.trainLoader, test: this.testLoader } = loaders(s, this.data, sets, this.inputSize));
    this.batchesPerEpoch = this.trainLoader.numBatches;
    ({ stepsPerEpoch: this.stepsPerEpoch, totalSteps: this.totalSteps, warmupSteps: this.warmupSteps } = stepCounts(s, this.batchesPerEpoch));
    this.schedule = cosineSchedule({ lr: s.lr, minLr: s.minLr, totalSteps: this.totalSteps, warmupSteps: this.warmupSteps, warmupStart: s.warmupStart });
    this.recorded = recordedOptions(s, sets.train.n, sets.test.n);
    this.model = buildModel(this.config, { seed: s.seed, device: s.device });
    this.opt = makeOptimizer(this.model.parameters(), s);
    this.ema = s.ema ? new WeightEma(this.model) : null;
    this.lossSum = new DeviceSum(s.device);
    this.correctSum = new DeviceSum(s.device);
    this.files = runFiles(s.out);
    this.meta = startMeta(this.config, this.recorded, this.trainLoader);
  }

  log(line: string): void {
    this.s.write(line + '\n');
  }

  /** Appends a record to metrics.jsonl and hands it to onMetrics. */
  record(r: Record<string, unknown>): void {
    appendFileChecked(this.files.metrics, JSON.stringify(r) + '\n', OP);
    this.s.onMetrics?.(r);
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
    writeCheckpoint(file, { model: this.model.stateDict(), ema: this.ema?.stateDict() ?? null, optimizer: baseOptimizer(this.opt).stateDict(), meta });
  }

  /** Writes the EMA's state dict, a plain training-form state dict, to best-ema.safetensors. */
  saveBestEma(): void {
    if (this.ema) writeSafetensors(this.files.bestEma, this.ema.stateDict(), { metadata: { format: 'pt', arch: this.s.archName, form: 'train' } });
  }

  /** Continues from a checkpoint's position (its model, EMA and optimizer state are loaded by the caller). */
  restore(meta: RunMeta): void {
    this.trainLoader.setState(meta.loader);
    this.meta = meta;
    this.lossSum.reset(meta.epochLoss);
    this.correctSum.reset(meta.epochCorrect);
  }

  writeConfig(): void {
    writeFileAtomic(this.files.config, JSON.stringify({ config: this.config, options: this.recorded }, null, 2) + '\n', OP);
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
