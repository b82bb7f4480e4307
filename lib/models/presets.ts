// RepMLPNet configurations: the paper's ImageNet models (reparamConvK (1, 3),
// stages C, 2C, 4C, 8C, one partition per map: hs = ws = input / 4, / 8, / 16, / 32), its
// CIFAR model, and `small`, a CPU-sized model for 32 x 32 inputs.
import { fail, describe } from '../errors';
import { configInputSize } from './geometry';
import type { RepMLPNetConfig } from './repmlpnet';

export type PresetName = 'RepMLPNet-T224' | 'RepMLPNet-B224' | 'RepMLPNet-T256' | 'RepMLPNet-B256' | 'RepMLPNet-D256' | 'RepMLPNet-L256' | 'cifar' | 'small';

export interface PresetOverrides {
  inChannels?: number;
  numClasses?: number;
  deploy?: boolean;
  globalPerceptronReduce?: number;
}

function imagenet(input: number, numBlocks: number[], C: number, sharesetsNums: number[]): RepMLPNetConfig {
  const hs = [input / 4, input / 8, input / 16, input / 32];
  return {
    inChannels: 3, numClasses: 1000, patchSize: 4, numBlocks, channels: [C, 2 * C, 4 * C, 8 * C],
    hs, ws: hs, sharesetsNums, reparamConvK: [1, 3], globalPerceptronReduce: 4, deploy: false,
  };
}

const PRESETS: Record<PresetName, () => RepMLPNetConfig> = {
  'RepMLPNet-T224': () => imagenet(224, [2, 2, 6, 2], 64, [1, 4, 16, 128]),
  'RepMLPNet-B224': () => imagenet(224, [2, 2, 12, 2], 96, [1, 4, 32, 128]),
  'RepMLPNet-T256': () => imagenet(256, [2, 2, 6, 2], 64, [1, 4, 16, 128]),
  'RepMLPNet-B256': () => imagenet(256, [2, 2, 12, 2], 96, [1, 4, 32, 128]),
  'RepMLPNet-D256': () => imagenet(256, [2, 2, 18, 2], 80, [1, 4, 16, 128]),
  'RepMLPNet-L256': () => imagenet(256, [2, 2, 18, 2], 96, [1, 4, 32, 256]),
  cifar: () => ({
    inChannels: 3, numClasses: 10, patchSize: 2, numBlocks: [6, 6], channels: [128, 256], hs: [16, 8], ws: [16, 8],
    sharesetsNums: [8, 32], reparamConvK: [1, 3], globalPerceptronReduce: 4, deploy: false,
  }),
  small: () => ({
    inChannels: 3, numClasses: 10, patchSize: 2, numBlocks: [2, 2, 2], channels: [32, 64, 128], hs: [16, 8, 4], ws: [16, 8, 4],
    sharesetsNums: [2, 4, 8], reparamConvK: [1, 3], globalPerceptronReduce: 4, deploy: false,
  }),
};

export const presetNames = Object.keys(PRESETS) as PresetName[];

/** A fresh config of a preset, with inChannels / numClasses / deploy overridable. */
export function preset(name: PresetName, overrides: PresetOverrides = {}): RepMLPNetConfig {
  const make = PRESETS[name];
  if (!Object.prototype.hasOwnProperty.call(PRESETS, name) || !make)
    fail('preset', 'name', `one of ${presetNames.join(', ')}`, describe(name));
  if (typeof overrides !== 'object' || overrides === null) fail('preset', 'overrides', 'an object', describe(overrides));
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  return { ...make(), ...defined };
}

/** The input size a preset was designed for (height = width). */
export function presetInputSize(name: PresetName): number {
  return configInputSize(preset(name))[0];
}
