// The trainer's options: what train() accepts (TrainOptions), what it returns
// (TrainSummary), and the settings a run works from, with every default filled in and
// every value checked before anything is loaded or built.
import * as path from 'node:path';
import { backend } from '../backend';
import type { DataName } from '../data/datasets';
import { describe, fail } from '../errors';
import { PARTITION_ORDERS } from '../models/config';
import { allPresetNames, familyOf, familyOfPreset, isRepMLPNetConfig, type ModelConfig } from '../models/families';
import type { PartitionOrder } from '../models/repmlpnet';
import type { Device } from '../tensor';
import { resolveFolderOptions, type FolderSettings, type ImageFolderOptions } from './folder-options';
import { nonNeg, OP, optionalPosInt, posInt } from './option-checks';
import { distSettings, RECORDED_DIST_DEFAULTS, type DistSettings, type DistTrainOptions } from './dist-options';
import { RECORDED_RECIPE_DEFAULTS, recipeSettings, recordedRecipe, type RecipeOptions, type RecipeSettings } from './recipe-options';

export type { DataName } from '../data/datasets';
export type { ImageFolderOptions } from './folder-options';
export type { OptimizerName } from './recipe-options';
export { OP } from './option-checks';

/**
 * The options of train(); the optimizer, accumulation, lr scaling and EMA ones are
 * RecipeOptions', the distributed ones DistTrainOptions'.
 */
export interface TrainOptions extends RecipeOptions, DistTrainOptions {
  /** a preset name of any model family or a config (default 'small'); a preset gets the data set's channels and classes */
  arch?: string | ModelConfig;
  /** the order of partitions and channel groups (RepMLPNetConfig.partitionOrder), for a RepMLPNet preset or config that gives none */
  partitionOrder?: PartitionOrder;
  /** a data set by name (default 'fashion-mnist'), or image files: a folder or two file lists, with their options */
  data?: DataName | ImageFolderOptions;
  /** the model's input height and width (default the config's: hs[0] * patchSize; the 2021 models take only their imgH x imgW); images are rendered (or padded) to it */
  inputSize?: number;
  /** the data directory (required for CIFAR; Fashion-MNIST is looked up as loadFashionMnist does) */
  dataDir?: string;
  epochs?: number;
  /** images per step (default 64): the global batch over every rank of a distributed run */
  batchSize?: number;
  /** peak learning rate (default 2e-3; scaled when lrScaleBatch is given) */
  lr?: number;
  /** learning rate at the last step (default 1e-5; scaled when lrScaleBatch is given) */
  minLr?: number;
  /** weight decay on tensors of >= 2 dimensions (default 0.05): decoupled for AdamW, added to the gradient for SGD */
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
  /** top-5 test accuracy of the training form (top-k with k = the classes when fewer than 5) */
  testTop5: number;
  /** top-1 and top-5 test accuracy of the EMA weights at the last evaluation (null without ema) */
  emaTestAccuracy: number | null;
  emaTestTop5: number | null;
  epochs: number;
  imagesPerSecond: number;
  steps: number;
  seconds: number;
  out: string;
  dataSource: string;
  /** true when maxSteps / shouldStop ended the run early (no deploy form then) */
  stopped: boolean;
  /** images left out because they could not be decoded (skipBadImages), training and test together, over every rank */
  skippedImages: number;
  /** the ranks that trained (1: this process alone) */
  worldSize: number;
}

/** TrainOptions with the defaults filled in and every value checked. */
export interface Settings extends RecipeSettings, DistSettings {
  data: DataName | FolderSettings;
  /** the input size as given; undefined: the config's */
  inputSize: number | undefined;
  dataDir: string | undefined;
  arch: string | ModelConfig;
  partitionOrder: PartitionOrder | undefined;
  /** the preset name, or 'custom' for a config object */
  archName: string;
  epochs: number;
  batchSize: number;
  /** the learning rates the run uses (lrScale applied), and as given */
  lr: number;
  minLr: number;
  givenLr: number;
  givenMinLr: number;
  weightDecay: number;
  warmupEpochs: number;
  warmupStart: number;
  labelSmoothing: number;
  mixup: number;
  cutmix: number;
  augment: boolean;
  clipGrad: number;
  seed: number;
  /** the option as given ('auto' logs the backend's reason) and the device it stands for */
  deviceOption: Device | 'auto';
  device: Device;
  /** the run directory, absolute */
  out: string;
  resume: boolean;
  json: boolean;
  limitTrain: number | undefined;
  limitTest: number | undefined;
  logEvery: number;
  saveEvery: number;
  /** Infinity when not given */
  maxSteps: number;
  prefetch: boolean;
  write: (text: string) => void;
  warn: (text: string) => void;
  tty: boolean;
  onMetrics: ((record: Record<string, unknown>) => void) | undefined;
  shouldStop: ((step: number) => boolean) | undefined;
}

/** The optimisation options: schedule, regularisation, augmentation, seed. */
function recipe(o: TrainOptions) {
  const lr = nonNeg('lr', o.lr, 2e-3);
  return {
    epochs: posInt('epochs', o.epochs, 5),
    batchSize: posInt('batchSize', o.batchSize, 64),
    lr,
    minLr: nonNeg('minLr', o.minLr, Math.min(1e-5, lr), lr),
    weightDecay: nonNeg('weightDecay', o.weightDecay, 0.05),
    warmupEpochs: nonNeg('warmupEpochs', o.warmupEpochs, 1),
    warmupStart: nonNeg('warmupStart', o.warmupStart, 0.01, 1),
    labelSmoothing: nonNeg('labelSmoothing', o.labelSmoothing, 0.1, 1),
    mixup: nonNeg('mixup', o.mixup, 0),
    cutmix: nonNeg('cutmix', o.cutmix, 0),
    clipGrad: nonNeg('clipGrad', o.clipGrad, 0),
    seed: posInt('seed', o.seed, 0, 0),
    augment: o.augment ?? true,
  };
}

/** The recipe with its learning rates scaled by lrScale (lrScaleBatch). */
function scaledRecipe(o: TrainOptions) {
  const r = recipe(o);
  const more = recipeSettings(o, r.batchSize);
  return { ...r, ...more, givenLr: r.lr, givenMinLr: r.minLr, lr: r.lr * more.lrScale, minLr: r.minLr * more.lrScale };
}

/** Logging, saving and stopping. */
function runControl(o: TrainOptions) {
  return {
    logEvery: posInt('logEvery', o.logEvery, 20),
    saveEvery: posInt('saveEvery', o.saveEvery, 200),
    maxSteps: o.maxSteps === undefined ? Infinity : posInt('maxSteps', o.maxSteps, 1),
    limitTrain: optionalPosInt('limitTrain', o.limitTrain),
    limitTest: optionalPosInt('limitTest', o.limitTest),
    resume: Boolean(o.resume),
    json: Boolean(o.json),
    prefetch: o.prefetch ?? true,
    onMetrics: o.onMetrics,
    shouldStop: o.shouldStop,
  };
}

/** Where the output goes: stdout and stderr unless told otherwise. */
function outputs(o: TrainOptions) {
  return {
    write: o.write ?? ((t: string) => void process.stdout.write(t)),
    warn: o.warn ?? ((t: string) => void process.stderr.write(t)),
    tty: o.tty ?? (o.write === undefined && process.stdout.isTTY === true),
  };
}

/** The data's name in the default run directory: the data set's, or the image folder's (or training list's) base name. */
function dataLabel(data: DataName | FolderSettings): string {
  if (typeof data === 'string') return data;
  return path.basename(data.folder ?? data.trainList!, data.folder ? undefined : path.extname(data.trainList!));
}

/** Checks the options and fills in the defaults. */
export function resolveOptions(options: TrainOptions): Settings {
  if (typeof options !== 'object' || options === null) fail(OP, 'options', 'an object', describe(options));
  const given = options.data ?? 'fashion-mnist';
  const data = typeof given === 'string' ? given : resolveFolderOptions(given);
  const r = scaledRecipe(options);
  const control = runControl(options);
  const deviceOption = options.device ?? 'auto';
  if (deviceOption !== 'auto' && deviceOption !== 'cpu' && deviceOption !== 'cuda') fail(OP, 'device', "'auto', 'cpu' or 'cuda'", describe(deviceOption));
  const device: Device = deviceOption === 'auto' ? backend().device : deviceOption;
  const arch = options.arch ?? 'small';
  const archName = typeof arch === 'string' ? arch : 'custom';
  const out = path.resolve(options.out ?? path.join('runs', `${dataLabel(data)}-${archName}`));
  const inputSize = optionalPosInt('inputSize', options.inputSize);
  const partitionOrder = options.partitionOrder;
  if (partitionOrder !== undefined && !PARTITION_ORDERS.includes(partitionOrder)) fail(OP, 'partitionOrder', "'paper' or 'reference'", describe(partitionOrder));
  return {
    data, inputSize, dataDir: options.dataDir, arch, partitionOrder, archName, ...r, ...control, ...distSettings(options), deviceOption, device, out, ...outputs(options),
  };
}

/**
 * The model config for `arch` on a data set of `channels` channels and `numClasses` classes,
 * in partition order `order` when given (a RepMLPNet's).
 */
export function resolveConfig(arch: string | ModelConfig, channels: number, numClasses: number, order?: PartitionOrder): ModelConfig {
  if (typeof arch === 'string') {
    const family = familyOfPreset(arch);
    if (!family) fail(OP, 'arch', `a preset (${allPresetNames.join(', ')}) or a config object`, describe(arch));
    return inOrder(family.withData(family.preset(arch), channels, numClasses), order);
  }
  if (typeof arch !== 'object' || arch === null) fail(OP, 'arch', 'a preset name or a config object', describe(arch));
  const family = familyOf(arch, `${OP}: arch`);
  const cfg = family.check(arch, `${OP}: arch`);
  const [inChannels] = family.inputShape(cfg);
  if (inChannels !== channels) fail(OP, 'arch.inChannels', `${channels} (the data set's channels)`, describe(inChannels));
  if (cfg.numClasses !== numClasses) fail(OP, 'arch.numClasses', `${numClasses} (the data set's classes)`, describe(cfg.numClasses));
  return { ...inOrder(cfg, order), deploy: false };
}

/** The config in partition order `order` when given: a RepMLPNet's, whose own partitionOrder (if any) must agree. */
function inOrder(cfg: ModelConfig, order: PartitionOrder | undefined): ModelConfig {
  if (order === undefined) return cfg;
  if (!isRepMLPNetConfig(cfg)) fail(OP, 'partitionOrder', `none for a ${familyOf(cfg).arch} config (partition orders are RepMLPNet's)`, describe(order));
  if (cfg.partitionOrder !== undefined && cfg.partitionOrder !== order)
    fail(OP, 'partitionOrder', `the order of arch.partitionOrder ('${cfg.partitionOrder}') or none`, describe(order));
  return { ...cfg, partitionOrder: order };
}

/** What the data records for a resumed run (RunData's): its name or options, and the image counts used. */
export interface RecordedData {
  recorded: unknown;
  trainImages: number;
  testImages: number;
}

/** Options a checkpoint may predate, with the value they stood for. */
export const RECORDED_DEFAULTS: Readonly<Record<string, unknown>> = { ...RECORDED_RECIPE_DEFAULTS, ...RECORDED_DIST_DEFAULTS, inputSize: null };

/**
 * What a resumed run must agree on: the options that shape the run (functions and
 * run-control options left out), with the image counts actually used.
 */
export function recordedOptions(s: Settings, data: RecordedData): Record<string, unknown> {
  const { trainImages, testImages } = data;
  return {
    arch: s.archName, data: data.recorded, inputSize: s.inputSize ?? null, dataDir: s.dataDir ?? null, epochs: s.epochs, batchSize: s.batchSize, lr: s.givenLr, minLr: s.givenMinLr,
    weightDecay: s.weightDecay, warmupEpochs: s.warmupEpochs, warmupStart: s.warmupStart, labelSmoothing: s.labelSmoothing,
    mixup: s.mixup, cutmix: s.cutmix, augment: s.augment, clipGrad: s.clipGrad, seed: s.seed, limitTrain: trainImages, limitTest: testImages,
    ...recordedRecipe(s),
  };
}
