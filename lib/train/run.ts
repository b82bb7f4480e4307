// One training run's state, built from its settings: the data and its two loaders, the
// model and its AdamW, the learning-rate schedule, the epoch's running sums (kept on the
// device, read back only when logging or saving), where the run stands (CheckpointMeta,
// what last.safetensors records), and the files of the run directory with the writes to
// them.
import * as path from 'node:path';
import { limitDataset, loadData, type LoadedData } from '../data/datasets';
import { DataLoader, type ImageDataset } from '../data/loader';
import { fail } from '../errors';
import { appendFileChecked, writeFileAtomic } from '../io/atomic';
import { RepMLPNet, type RepMLPNetConfig } from '../models/repmlpnet';
import { AdamW } from '../optim/adamw';
import { splitWeightDecay } from '../optim/optimizer';
import { writeCheckpoint, type CheckpointMeta } from './checkpoint';
import { DeviceSum } from './device-sum';
import { OP, recordedOptions, resolveConfig, type Settings } from './options';
import { cosineSchedule } from './schedule';

/** The files of a run directory. */
export interface RunFiles {
  config: string;
  metrics: string;
  last: string;
  best: string;
  deploy: string;
}

export function runFiles(out: string): RunFiles {
  const at = (name: string) => path.join(out, name);
  return {
    config: at('config.json'), metrics: at('metrics.jsonl'), last: at('last.safetensors'), best: at('best.safetensors'), deploy: at('deploy.safetensors'),
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

export class TrainingRun {
  readonly data: LoadedData;
  readonly config: RepMLPNetConfig;
  readonly inputSize: number;
  readonly trainLoader: DataLoader;
  readonly testLoader: DataLoader;
  readonly stepsPerEpoch: number;
  readonly totalSteps: number;
  readonly schedule: (step: number) => number;
  /** the options a resumed run must agree on */
  readonly recorded: Record<string, unknown>;
  readonly model: RepMLPNet;
  readonly opt: AdamW;
  readonly lossSum: DeviceSum;
  readonly correctSum: DeviceSum;
  readonly files: RunFiles;
  meta: CheckpointMeta;

  /** Loads the data and builds the loaders, the model and its optimizer; nothing is written yet. */
  constructor(readonly s: Settings) {
    this.data = loadData(s.data, s.dataDir, OP);
    ({ config: this.config, inputSize: this.inputSize } = modelConfig(s, this.data));
    const sets = { train: limitDataset(this.data.train, s.limitTrain), test: limitDataset(this.data.test, s.limitTest) };
    ({ train: this.trainLoader, test: this.testLoader } = loaders(s, this.data, sets, this.inputSize));
    this.stepsPerEpoch = this.trainLoader.numBatches;
    this.totalSteps = s.epochs * this.stepsPerEpoch;
    const warmupSteps = Math.min(this.totalSteps, Math.round(s.warmupEpochs * this.stepsPerEpoch));
    this.schedule = cosineSchedule({ lr: s.lr, minLr: s.minLr, totalSteps: this.totalSteps, warmupSteps, warmupStart: s.warmupStart });
    this.recorded = recordedOptions(s, sets.train.n, sets.test.n);
    this.model = new RepMLPNet(this.config, { seed: s.seed, device: s.device });
    this.opt = new AdamW(splitWeightDecay(this.model.parameters(), s.weightDecay), { lr: s.lr, weightDecay: s.weightDecay });
    this.lossSum = new DeviceSum(s.device);
    this.correctSum = new DeviceSum(s.device);
    this.files = runFiles(s.out);
    this.meta = {
      epoch: 0, batch: 0, step: 0, loader: this.trainLoader.state(), bestAccuracy: -1, lastAccuracy: -1,
      epochLoss: 0, epochCorrect: 0, epochSeen: 0, config: this.config, options: this.recorded,
    };
  }

  log(line: string): void {
    this.s.write(line + '\n');
  }

  /** Appends a record to metrics.jsonl and hands it to onMetrics. */
  record(r: Record<string, unknown>): void {
    appendFileChecked(this.files.metrics, JSON.stringify(r) + '\n', OP);
    this.s.onMetrics?.(r);
  }

  /** Writes a checkpoint of where the run stands (the epoch's sums read back from the device). */
  save(file: string): void {
    const meta = { ...this.meta, loader: this.trainLoader.state(), epochLoss: this.lossSum.read(), epochCorrect: this.correctSum.read() };
    writeCheckpoint(file, { model: this.model.stateDict(), optimizer: this.opt.stateDict(), meta });
  }

  /** Continues from a checkpoint's position (its model and optimizer state are loaded by the caller). */
  restore(meta: CheckpointMeta): void {
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
    this.model.dispose();
  }
}
