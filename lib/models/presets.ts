// RepMLPNet configurations: the paper's ImageNet models (reparamConvK (1, 3),
// stages C, 2C, 4C, 8C, one partition per map: hs = ws = input / 4, / 8, / 16, / 32), its
// CIFAR model, and `small`, a CPU-sized model for 32 x 32 inputs.
import { fail, describe } from '../errors';
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
  const cfg = preset(name);
  return cfg.hs[0] * cfg.patchSize;
}

/**
 * The parameter count of a config without building it (the ImageNet models are large):
 * the same sum of shapes the modules register, checked against built models in the tests.
 */
export function parameterCount(cfg: RepMLPNetConfig): number {
  const r = cfg.globalPerceptronReduce ?? 4;
  const ch = cfg.channels;
  const bn = (c: number) => 2 * c;
  let n = cfg.inChannels * ch[0] * cfg.patchSize ** 2 + bn(ch[0]);
  cfg.numBlocks.forEach((blocks, i) => {
    const C = ch[i], S = cfg.sharesetsNums[i], hw = cfg.hs[i] * cfg.ws[i], c = Math.floor(C / r);
    let unit = bn(C) * 2; // prebn1, prebn2
    unit += C * c + c + c * C + C; // gp.fc1, gp.fc2
    unit += S * hw * hw; // fc3.weight
    if (cfg.deploy) unit += S * hw; // fc3.bias
    else unit += bn(S) + cfg.reparamConvK.reduce((s, k) => s + S * k * k + bn(S), 0);
    unit += C * 4 * C + bn(4 * C) + 4 * C * C + bn(C); // ffn_fc1, ffn_fc2
    n += blocks * unit;
    if (i < cfg.numBlocks.length - 1) n += C * ch[i + 1] * 4 + bn(ch[i + 1]);
  });
  const last = ch[ch.length - 1];
  return n + bn(last) + last * cfg.numClasses + cfg.numClasses;
}
