// One training run's state, built from its settings and its data: the two loaders, the
// model card, the model, its optimizer and the EMA of its weights, the learning-rate schedule (per
// optimizer step, each of accumSteps micro-batches), the epoch's running sums (kept on the
// device, read back only when logging or saving), where the run stands (RunMeta,
// what last.safetensors records), and the files of the run directory with the writes to
// them (by rank 0 alone, the other ranks of a distributed run waiting for it: parallel.ts).
import * as path from 'node:path';
import type { BatchSource } from '../data/batch-source';
import { modelCardMetadata, type ModelCard } from '../data/model-card';
import { fail, warningLine } from '../errors';
import { appendFileChecked, writeFileAtomic } from '../io/atomic';
import { writeSafetensors, type HostTensor } from '../io/safetensors';
import { buildModel, checkModelInputSize, isRepMLPNetConfig, modelInputSize, type FamilyModel, type ModelConfig } from '../models/families';
import type { Tensor } from '../tensor';
import { writeCheckpoint, type RunMeta } from './checkpoint';
import type { Preprocessing, RunData } from './data';
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

/** The model a run trains, checked against its data before anything is written. */
export interface ModelPlan {
  config: ModelConfig;
  /** the model's input height and width */
  inputSize: number;
  /** the evaluation preprocessing besides the sizes and the normalisation */
  preprocessing: Preprocessing;
}

/**
 * The config for the data's channels and classes and the input size (given, or the
 * config's): one the model takes, and at least as large as a named data set's images.
 */
export function planModel(s: Settings, data: RunData): ModelPlan {
  const config = resolveConfig(s.arch, data.channels, data.classes.length, s.partitionOrder);
  const designed = modelInputSize(config);
  if (s.inputSize === undefined && designed[0] !== designed[1])
    fail(OP, 'inputSize', `a square training input for a config designed for ${designed[0]} x ${designed[1]} (the trainer's images are square)`, 'none');
  const inputSize = s.inputSize ?? designed[0];
  if (s.inputSize !== undefined) checkModelInputSize(config, [inputSize, inputSize], OP);
  if (data.imageSize !== null && inputSize < data.imageSize) {
    const [arg, what] = s.inputSize === undefined ? ['arch', 'a model for inputs'] : ['inputSize', 'inputs'];
    const designedAs = s.inputSize === undefined && isRepMLPNetConfig(config) ? ' (hs[0] * patchSize)' : '';
    fail(OP, arg, `${what} of at least ${data.imageSize} x ${data.imageSize}${designedAs}`, `${s.inputSize === undefined ? 'one for ' : ''}${inputSize} x ${inputSize}`);
  }
  return { config, inputSize, preprocessing: data.prepare(inputSize) };
}

/** Optimizer steps: per epoch (the last may take fewer micro-batches), in all, and of the warm-up. */
function stepCounts(s: Settings, batchesPerEpoch: number): { stepsPerEpoch: number; totalSteps: number; warmupSteps: number } {
  const stepsPerEpoch = Math.ceil(batchesPerEpoch / s.accumSteps);
  const totalSteps = s.epochs * stepsPerEpoch;
  return { stepsPerEpoch, totalSteps, warmupSteps: Math.min(totalSteps, Math.round(s.warmupEpochs * stepsPerEpoch)) };
}

function startMeta(config: ModelConfig, recorded: Record<string, unknown>, loader: BatchSource): RunMeta {
  return {
    epoch: 0, batch: 0, step: 0, loader: loader.state(), bestAccuracy: -1, lastAccuracy: -1, lastTop5: -1,
    bestEmaAccuracy: -1, lastEmaAccuracy: -1, lastEmaTop5: -1, epochLoss: 0, epochCorrect: 0, epochSeen: 0, config, options: recorded,
  };
}

export class TrainingRun {
  readonly config: ModelConfig;
  readonly inputSize: number;
  /** the class names, input size and preprocessing every weights file of the run records */
  readonly card: ModelCard;
  readonly trainLoader: BatchSource;
  readonly testLoader: BatchSource;
  /** micro-batches (loader batches) per epoch, and optimizer steps per epoch, in all and of the warm-up */
  readonly batchesPerEpoch: number;
  readonly stepsPerEpoch: number;
  readonly totalSteps: number;
  readonly warmupSteps: number;
  readonly schedule: (step: number) => number;
  /** the options a resumed run must agree on */
  readonly recorded: Record<string, unknown>;
  readonly model: FamilyModel;
  readonly opt: TrainOptimizer;
  /** the EMA of the model's weights; null unless the ema option is on */
  readonly ema: WeightEma | null;
  readonly lossSum: DeviceSum;
  readonly correctSum: DeviceSum;
  readonly files: RunFiles;
  meta: RunMeta;

  /**
   * Prints the data's line, resolves the normalisation (which may decode the training images
   * once: on rank 0, which hands it to every rank) and builds the run; called in the locked
   * run directory.
   */
  static async open(s: Settings, data: RunData, plan: ModelPlan, par: TrainParallel): Promise<TrainingRun> {
    s.write(data.description + '\n');
    const files = runFiles(s.out);
    const own = par.isRank0 ? await data.normalisation(plan.inputSize, s.resume ? files.last : null, (line) => s.write(line + '\n')) : null;
    const norm = par.agree(own)!;
    const card: ModelCard = {
      arch: s.archName, config: plan.config, classes: data.classes, inputSize: plan.inputSize,
      imageSize: data.imageSize ?? plan.inputSize, mean: norm.mean, std: norm.std, ...plan.preprocessing,
    };
    return new TrainingRun(s, data, card, par);
  }

  /** Builds the loaders (this rank's shares), the model (rank 0's weights on every rank), its optimizer and EMA; nothing is written yet. */
  constructor(readonly s: Settings, readonly data: RunData, card: ModelCard, readonly par: TrainParallel) {
    this.card = card;
    this.config = card.config;
    this.inputSize = card.inputSize;
    ({ train: this.trainLoader, test: this.testLoader } = data.loaders(card, par.loaderShards()));
    this.batchesPerEpoch = this.trainLoader.numBatches;
    ({ stepsPerEpoch: this.stepsPerEpoch, totalSteps: this.totalSteps, warmupSteps: this.warmupSteps } = stepCounts(s, this.batchesPerEpoch));
    this.schedule = cosineSchedule({ lr: s.lr, minLr: s.minLr, totalSteps: this.totalSteps, warmupSteps: this.warmupSteps, warmupStart: s.warmupStart });
    this.recorded = { ...recordedOptions(s, data), ...recordedDist(s, par.size) };
    this.model = buildModel(this.config, { seed: s.seed, device: s.device, onWarning: (m) => s.warn(warningLine(m)) });
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
      writeCheckpoint(file, { model: this.model.stateDict(), ema: this.ema?.stateDict() ?? null, optimizer: baseOptimizer(this.opt).stateDict(), meta, card: this.card }));
  }

  /** Writes a plain state dict (reference key names) with the model card in its metadata (rank 0). */
  writeWeights(file: string, state: Map<string, HostTensor>, form: 'train' | 'deploy'): void {
    this.rank0Writes(() => writeSafetensors(file, state, { metadata: { format: 'pt', form, ...modelCardMetadata(this.card) } }));
  }

  /** Writes the EMA's state dict, a plain training-form state dict, to best-ema.safetensors. */
  saveBestEma(): void {
    if (this.ema) this.writeWeights(this.files.bestEma, this.ema.stateDict(), 'train');
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
    this.rank0Writes(() => writeFileAtomic(this.files.config, JSON.stringify({ config: this.config, options: this.recorded, modelCard: this.card }, null, 2) + '\n', OP));
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
