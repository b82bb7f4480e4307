// The model families, keyed by a config's `arch`: RepMLPNet (configs without `arch`, the
// package's first model), RepMLPResNet and RepMLPCifar (the 2021 paper's models). Each entry
// knows its presets, checks its configs and the input sizes they take, counts parameters and
// FLOPs, tells the two forms of a state dict apart, fits a preset to a data set or to weights,
// and builds the model. The command line, the trainer, the model card and predict go through
// this table, so a new family is one entry here.
// Building loads the model's module on demand: configs, presets and counts need no native addon.
import type { HostTensor } from '../io/safetensors';
import { describe, fail } from '../errors';
import type { Module } from '../nn/module';
import type { Device, Tensor } from '../tensor';
import type { Rng } from '../rng';
import { checkConfig } from './config';
import { flops } from './flops';
import { checkInputSize, configInputSize, inputSizePair } from './geometry';
import { stateDictForm } from './infer';
import { preset, presetNames, type PresetName } from './presets';
import type { RepMLPNetConfig } from './repmlpnet';
import { parameterCount } from './shapes';
import { CIFAR_ARCH, CIFAR_PRESETS, cifarCost, validateCifarConfig, type CifarPresetName, type RepMLPCifarConfig } from './repmlp-cifar-config';
import { RESNET_ARCH, RESNET_PRESETS, resnetCost, validateResNetConfig, type RepMLPResNetConfig, type ResNetPresetName } from './repmlp-resnet-config';

/** Any family's config. */
export type ModelConfig = RepMLPNetConfig | RepMLPResNetConfig | RepMLPCifarConfig;

/** What the trainer, the commands and predict use of a model, whatever its family. */
export interface FamilyModel extends Module {
  readonly config: ModelConfig;
  readonly deploy: boolean;
  forward(x: Tensor): Tensor;
  localityInjection(): this;
}

export interface FamilyBuildOptions {
  seed?: number;
  rng?: Rng;
  device?: Device;
  /** where the model's warnings go (default: a line on stderr; RepMLPNet's partition order) */
  onWarning?: (message: string) => void;
  /** leave the weights uninitialised: a model whose state dict is loaded next (default false) */
  uninitialized?: boolean;
}

/** An input size: one number (square) or [height, width]; undefined for the config's own. */
export type InputSize = number | readonly number[] | undefined;

export interface ModelFamily<C extends ModelConfig = ModelConfig> {
  /** the config's `arch` (RepMLPNet's configs carry none) */
  readonly arch: string;
  readonly presetNames: readonly string[];
  /** a preset's config (the name is one of presetNames) */
  preset(name: string): C;
  /**
   * The config checked, as files record it: without the defaults its model adds (RepMLPNet's
   * under repmlp's names, the reference code's accepted); errors start with `where`.
   */
  check(config: C, where: string): C;
  /** the input [channels, H, W] the config is built for */
  inputShape(config: C): [number, number, number];
  /**
   * An input [H, W] the model takes (undefined: the config's own), checked: RepMLPNet's stage
   * maps multiples of their partitions; the 2021 models only their imgH x imgW. Errors name
   * `op` and `arg`.
   */
  checkInputSize(config: C, inputSize: InputSize, op: string, arg?: string): [number, number];
  /** parameters and multiply-adds per image of the config's form, at input [H, W] (default its own, which is all the 2021 models take) */
  cost(config: C, size?: readonly [number, number]): { params: number; macs: number };
  /** 'train' when the state dict holds BNs or conv branches that the deploy form folds */
  weightsForm(state: Map<string, HostTensor>): 'train' | 'deploy';
  /** the config with the input channels and classes of a data set or of weights */
  withData(config: C, inChannels: number, numClasses: number): C;
  /** [input channels, classes] of a state dict of this family (undefined where a key is missing) */
  dataOf(state: Map<string, HostTensor>): [number | undefined, number | undefined];
  build(config: C, opts: FamilyBuildOptions): FamilyModel;
}

const dim = (state: Map<string, HostTensor>, key: string, axis: number, ndim: number): number | undefined => {
  const t = state.get(key);
  return t?.shape.length === ndim ? t.shape[axis] : undefined;
};
const hasKey = (state: Map<string, HostTensor>, re: RegExp) => [...state.keys()].some((k) => re.test(k));

/**
 * The check of a 2021 model's input: the size its config is built for (its Global Perceptrons'
 * FC sizes depend on it), imgH x imgW.
 */
function fixedInputSize(config: RepMLPResNetConfig | RepMLPCifarConfig, inputSize: InputSize, op: string, arg = 'inputSize'): [number, number] {
  const fixed: [number, number] = [config.imgH, config.imgW];
  const given = inputSizePair(inputSize, op, arg) ?? fixed;
  if (given[0] !== fixed[0] || given[1] !== fixed[1])
    fail(op, arg, `the input size the ${config.arch} config is built for, ${fixed[0]} x ${fixed[1]}`, describe(inputSize));
  return fixed;
}

/** The family's validator as a check: the config as given when it passes. */
const checked = <C>(validate: (c: C, where: string) => unknown) => (c: C, where: string): C => {
  validate(c, where);
  return c;
};

const repmlpnet: ModelFamily<RepMLPNetConfig> = {
  arch: 'RepMLPNet',
  presetNames,
  preset: (name) => preset(name as PresetName),
  check: checkConfig,
  inputShape: (c) => [c.inChannels, ...configInputSize(c)],
  checkInputSize,
  cost: (c, size) => ({ params: parameterCount(c), macs: flops(c, size ?? configInputSize(c)) }),
  weightsForm: (state) => stateDictForm(state.keys()),
  withData: (c, inChannels, numClasses) => ({ ...c, inChannels, numClasses }),
  dataOf: (state) => [dim(state, 'conv_embedding.conv.weight', 1, 4), dim(state, 'head.weight', 0, 2)],
  build: (c, opts) => {
    const { RepMLPNet } = require('./repmlpnet') as typeof import('./repmlpnet');
    return new RepMLPNet(c, opts);
  },
};

// The 2021 models fold every BN: any BN, fc3_bn or branch key means the training form.
const TRAIN_KEY = /(^|\.)(bn|fc3_bn|repconv\d+)\./;

const resnet: ModelFamily<RepMLPResNetConfig> = {
  arch: RESNET_ARCH,
  presetNames: Object.keys(RESNET_PRESETS),
  preset: (name) => RESNET_PRESETS[name as ResNetPresetName](),
  check: checked(validateResNetConfig),
  inputShape: (c) => [c.inChannels ?? 3, c.imgH, c.imgW],
  checkInputSize: fixedInputSize,
  cost: resnetCost,
  weightsForm: (state) => (hasKey(state, TRAIN_KEY) ? 'train' : 'deploy'),
  withData: (c, inChannels, numClasses) => ({ ...c, inChannels, numClasses }),
  dataOf: (state) => [dim(state, 'stage0.0.conv.weight', 1, 4), dim(state, 'linear.weight', 0, 2)],
  build: (c, opts) => {
    const { RepMLPResNet } = require('./repmlp-resnet') as typeof import('./repmlp-resnet');
    return new RepMLPResNet(c, opts);
  },
};

const cifar: ModelFamily<RepMLPCifarConfig> = {
  arch: CIFAR_ARCH,
  presetNames: Object.keys(CIFAR_PRESETS),
  preset: (name) => CIFAR_PRESETS[name as CifarPresetName](),
  check: checked(validateCifarConfig),
  inputShape: (c) => [c.inChannels, c.imgH, c.imgW],
  checkInputSize: fixedInputSize,
  cost: cifarCost,
  weightsForm: (state) => (hasKey(state, TRAIN_KEY) ? 'train' : 'deploy'),
  withData: (c, inChannels, numClasses) => ({ ...c, inChannels, numClasses }),
  dataOf: (state) => [dim(state, 'stages.0.fc.conv.weight', 1, 4), dim(state, 'linear.weight', 0, 2)],
  build: (c, opts) => {
    const { RepMLPCifarNet } = require('./repmlp-cifar') as typeof import('./repmlp-cifar');
    return new RepMLPCifarNet(c, opts);
  },
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

/** True for a RepMLPNet config (one without `arch`): the family with partition orders, reference-code names and inputs of several partitions per map. */
export function isRepMLPNetConfig(config: ModelConfig): config is RepMLPNetConfig {
  return familyOf(config).arch === repmlpnet.arch;
}

/** The input [height, width] a config of any family is built for. */
export function modelInputSize(config: ModelConfig): [number, number] {
  const [, H, W] = familyOf(config).inputShape(config);
  return [H, W];
}

/** An input size (undefined: the config's own) checked against a config of any family (ModelFamily.checkInputSize). */
export function checkModelInputSize(config: ModelConfig, inputSize: InputSize, op: string, arg?: string): [number, number] {
  return familyOf(config).checkInputSize(config, inputSize, op, arg);
}

/** Builds the model of any family's config (its module loaded on first use). */
export function buildModel(config: ModelConfig, opts: FamilyBuildOptions = {}): FamilyModel {
  return familyOf(config).build(config, opts);
}

/** Whether m is a model of one of the families (their modules loaded to tell). */
export function isFamilyModel(m: unknown): m is FamilyModel {
  const { RepMLPNet } = require('./repmlpnet') as typeof import('./repmlpnet');
  const { RepMLPResNet } = require('./repmlp-resnet') as typeof import('./repmlp-resnet');
  const { RepMLPCifarNet } = require('./repmlp-cifar') as typeof import('./repmlp-cifar');
  return m instanceof RepMLPNet || m instanceof RepMLPResNet || m instanceof RepMLPCifarNet;
}
