// The model families, keyed by a config's `arch`: RepMLPNet (configs without `arch`, the
// package's first model), RepMLPResNet and RepMLPCifar (the 2021 paper's models). Each entry
// knows its presets, checks its configs, counts parameters and FLOPs, tells the two forms of a
// state dict apart, fits a preset to a data set or to weights, and builds the model. The
// command line and the trainer go through this table, so a new family is one entry here.
// Building loads the model's module on demand: configs, presets and counts need no native addon.
import type { HostTensor } from '../io/safetensors';
import { describe, fail } from '../errors';
import type { Module } from '../nn/module';
import type { Device, Tensor } from '../tensor';
import type { Rng } from '../rng';
import { validateConfig } from './config';
import { flops } from './flops';
import { parameterCount, preset, presetNames, type PresetName } from './presets';
import type { RepMLPNetConfig } from './repmlpnet';
import { CIFAR_ARCH, CIFAR_PRESETS, cifarCost, validateCifarConfig, type CifarPresetName, type RepMLPCifarConfig } from './repmlp-cifar-config';
import { RESNET_ARCH, RESNET_PRESETS, resnetCost, validateResNetConfig, type RepMLPResNetConfig, type ResNetPresetName } from './repmlp-resnet-config';

/** Any family's config. */
export type ModelConfig = RepMLPNetConfig | RepMLPResNetConfig | RepMLPCifarConfig;

/** What the trainer and the commands use of a model, whatever its family. */
export interface Classifier extends Module {
  readonly config: ModelConfig;
  readonly deploy: boolean;
  forward(x: Tensor): Tensor;
  localityInjection(): this;
}

export interface FamilyBuildOptions {
  seed?: number;
  rng?: Rng;
  device?: Device;
}

export interface ModelFamily<C extends ModelConfig = ModelConfig> {
  /** the config's `arch` (RepMLPNet's configs carry none) */
  readonly arch: string;
  readonly presetNames: readonly string[];
  /** a preset's config (the name is one of presetNames) */
  preset(name: string): C;
  /** the config checked, with its defaults; errors start with `where` */
  validate(config: C, where: string): C;
  /** the input [channels, H, W] the config is built for */
  inputShape(config: C): [number, number, number];
  /** parameters and multiply-adds per image of the config's form, at its input size */
  cost(config: C): { params: number; macs: number };
  /** 'train' when the state dict holds BNs or conv branches that the deploy form folds */
  weightsForm(state: Map<string, HostTensor>): 'train' | 'deploy';
  /** the config with the input channels and classes of a data set or of weights */
  withData(config: C, inChannels: number, numClasses: number): C;
  /** [input channels, classes] of a state dict of this family (undefined where a key is missing) */
  dataOf(state: Map<string, HostTensor>): [number | undefined, number | undefined];
  build(config: C, opts: FamilyBuildOptions): Classifier;
}

const dim = (state: Map<string, HostTensor>, key: string, axis: number, ndim: number): number | undefined => {
  const t = state.get(key);
  return t?.shape.length === ndim ? t.shape[axis] : undefined;
};
const hasKey = (state: Map<string, HostTensor>, re: RegExp) => [...state.keys()].some((k) => re.test(k));

const repmlpnet: ModelFamily<RepMLPNetConfig> = {
  arch: 'RepMLPNet',
  presetNames,
  preset: (name) => preset(name as PresetName),
  validate: (c, where) => validateConfig(c, where),
  inputShape: (c) => [c.inChannels, c.hs[0] * c.patchSize, c.ws[0] * c.patchSize],
  cost: (c) => ({ params: parameterCount(c), macs: flops(c, c.hs[0] * c.patchSize) }),
  weightsForm: (state) => (hasKey(state, /(^|\.)(fc3_bn|repconv\d+)\./) ? 'train' : 'deploy'),
  withData: (c, inChannels, numClasses) => ({ ...c, inChannels, numClasses }),
  dataOf: (state) => [dim(state, 'conv_embedding.conv.weight', 1, 4), dim(state, 'head.weight', 0, 2)],
  build: (c, opts) => new (require('./repmlpnet') as typeof import('./repmlpnet')).RepMLPNet(c, opts),
};

// The 2021 models fold every BN: any BN, fc3_bn or branch key means the training form.
const TRAIN_KEY = /(^|\.)(bn|fc3_bn|repconv\d+)\./;

const resnet: ModelFamily<RepMLPResNetConfig> = {
  arch: RESNET_ARCH,
  presetNames: Object.keys(RESNET_PRESETS),
  preset: (name) => RESNET_PRESETS[name as ResNetPresetName](),
  validate: (c, where) => validateResNetConfig(c, where),
  inputShape: (c) => [c.inChannels ?? 3, c.imgH, c.imgW],
  cost: resnetCost,
  weightsForm: (state) => (hasKey(state, TRAIN_KEY) ? 'train' : 'deploy'),
  withData: (c, inChannels, numClasses) => ({ ...c, inChannels, numClasses }),
  dataOf: (state) => [dim(state, 'stage0.0.conv.weight', 1, 4), dim(state, 'linear.weight', 0, 2)],
  build: (c, opts) => new (require('./repmlp-resnet') as typeof import('./repmlp-resnet')).RepMLPResNet(c, opts),
};

const cifar: ModelFamily<RepMLPCifarConfig> = {
  arch: CIFAR_ARCH,
  presetNames: Object.keys(CIFAR_PRESETS),
  preset: (name) => CIFAR_PRESETS[name as CifarPresetName](),
  validate: (c, where) => validateCifarConfig(c, where),
  inputShape: (c) => [c.inChannels, c.imgH, c.imgW],
  cost: cifarCost,
  weightsForm: (state) => (hasKey(state, TRAIN_KEY) ? 'train' : 'deploy'),
  withData: (c, inChannels, numClasses) => ({ ...c, inChannels, numClasses }),
  dataOf: (state) => [dim(state, 'stages.0.fc.conv.weight', 1, 4), dim(state, 'linear.weight', 0, 2)],
  build: (c, opts) => new (require('./repmlp-cifar') as typeof import('./repmlp-cifar')).RepMLPCifarNet(c, opts),
};

const FAMILIES: readonly ModelFamily[] = [repmlpnet, resnet, cifar] as unknown as ModelFamily[];

/** Every preset of every family, as `--arch` takes them. */
export const allPresetNames: readonly string[] = FAMILIES.flatMap((f) => f.presetNames);

/** The family of a config: by its `arch`, RepMLPNet when it has none. */
export function familyOf(config: unknown, where = 'config'): ModelFamily {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) fail(where, 'config', 'an object', describe(config));
  const arch = (config as { arch?: unknown }).arch;
  if (arch === undefined) return repmlpnet as unknown as ModelFamily;
  const f = FAMILIES.find((m) => m.arch !== 'RepMLPNet' && m.arch === arch);
  if (!f) fail(where, "'arch'", `one of ${FAMILIES.filter((m) => m.arch !== 'RepMLPNet').map((m) => `'${m.arch}'`).join(', ')} (or none, for RepMLPNet)`, JSON.stringify(arch) ?? String(arch));
  return f;
}

/** The family that has a preset of this name, or null. */
export function familyOfPreset(name: string): ModelFamily | null {
  return FAMILIES.find((f) => f.presetNames.includes(name)) ?? null;
}

/** A preset's config, of whichever family has it. */
export function presetConfig(name: string): ModelConfig {
  const f = familyOfPreset(name);
  if (!f) fail('presetConfig', 'name', `a preset (${allPresetNames.join(', ')})`, describe(name));
  return f.preset(name);
}

/**
 * The square input size a data loader pads to for this config; `op` names the caller in the
 * error for a config built for H != W (the loaders pad to squares).
 */
export function squareInputSize(config: ModelConfig, op: string): number {
  const [, H, W] = familyOf(config).inputShape(config);
  if (H !== W) fail(op, 'arch', 'a model for square inputs (the data loader pads images to a square)', `one for ${H} x ${W}`);
  return H;
}

/** Builds the model of any family's config (its module loaded on first use). */
export function buildModel(config: ModelConfig, opts: FamilyBuildOptions = {}): Classifier {
  return familyOf(config).build(config, opts);
}
