// The pure-MLP CIFAR model of the RepMLP paper (Ding et al. 2021, section 4.1) and its
// counterparts: the configuration, its check, the presets (the model, its Wide ConvNet and the
// ablations of Table 1) and the parameter and FLOP counts. Nothing here needs the native addon.
//
// Three stages at maps of imgH x imgW, /2, /4: stage i is `fc`, a 1x1 ConvBNReLU (the FC, from
// the previous stage's channels or the input's), then the stage's mixing layer and a ReLU; a 2x2
// stride-2 max pooling follows stages 1 and 2; then global average pooling and `linear`. The
// mixing layer is a RepMLP (channels[i] in and out, partition h x w, fc3Groups groups) in the
// 'mlp' variant and a 3x3 ConvBN in 'wide-convnet' (whose channels are usually twice as many).
// The ablations change the RepMLP: 'no-local' drops the conv branches, 'no-global' the Global
// Perceptron, 'fc3-conv9' makes fc3 a 9x9 conv on the partitions (training form), and
// 'repmlp-conv9' replaces the whole RepMLP by a 9x9 ConvBN on the map.
import { describe, fail, RepmlpError } from '../errors';
import { convBnCost, plus, repmlpCost, type Cost } from './repmlp-cost';

export type CifarModelVariant = 'mlp' | 'wide-convnet';
export type CifarAblation = 'none' | 'no-local' | 'no-global' | 'fc3-conv9' | 'repmlp-conv9';

export interface RepMLPCifarConfig {
  arch: 'RepMLPCifar';
  variant: CifarModelVariant;
  inChannels: number;
  numClasses: number;
  /** Input size (multiples of 4: two poolings). */
  imgH: number;
  imgW: number;
  /** Channels of the three stages. */
  channels: readonly number[];
  /** The RepMLP partition. */
  h: number;
  w: number;
  fc3Groups: number;
  reparamConvK: readonly number[];
  fc1Fc2Reduction: number;
  /** A Table 1 ablation of the RepMLP (default 'none'). */
  ablation?: CifarAblation;
  deploy?: boolean;
}

export const CIFAR_ARCH = 'RepMLPCifar';
const REQUIRED = ['arch', 'variant', 'inChannels', 'numClasses', 'imgH', 'imgW', 'channels', 'h', 'w', 'fc3Groups', 'reparamConvK', 'fc1Fc2Reduction'] as const;
export const CIFAR_FIELDS: readonly string[] = [...REQUIRED, 'ablation', 'deploy'];
const VARIANTS: readonly CifarModelVariant[] = ['mlp', 'wide-convnet'];
const ABLATIONS: readonly CifarAblation[] = ['none', 'no-local', 'no-global', 'fc3-conv9', 'repmlp-conv9'];
/** The kernel of the conv9 ablations. */
export const CONV9 = 9;

const isPosInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1;
const shown = (v: unknown) => JSON.stringify(v) ?? String(v);

/** What stage i's mixing layer is: a RepMLP (with its options) or a k x k ConvBN. */
export type Mixer = { kind: 'repmlp'; globalPerceptron?: boolean; fc3Kernel: number | null; reparamConvK: readonly number[] } | { kind: 'conv'; k: number };

export function mixerOf(cfg: Required<RepMLPCifarConfig>): Mixer {
  if (cfg.variant === 'wide-convnet') return { kind: 'conv', k: 3 };
  switch (cfg.ablation) {
    case 'repmlp-conv9': return { kind: 'conv', k: CONV9 };
    case 'no-local': return { kind: 'repmlp', fc3Kernel: null, reparamConvK: [] };
    case 'no-global': return { kind: 'repmlp', globalPerceptron: false, fc3Kernel: null, reparamConvK: cfg.reparamConvK };
    case 'fc3-conv9': return { kind: 'repmlp', fc3Kernel: CONV9, reparamConvK: cfg.reparamConvK };
    default: return { kind: 'repmlp', fc3Kernel: null, reparamConvK: cfg.reparamConvK };
  }
}

/** The map of stage i: (imgH / 2^i, imgW / 2^i). */
export function stageMap(cfg: RepMLPCifarConfig, i: number): [number, number] {
  return [cfg.imgH / 2 ** i, cfg.imgW / 2 ** i];
}

/** Checks a config field by field; returns it with the defaults (ablation 'none', deploy false). */
export function validateCifarConfig(cfg: RepMLPCifarConfig, where = CIFAR_ARCH): Required<RepMLPCifarConfig> {
  const bad = (what: string): never => {
    throw new RepmlpError(`${where}: ${what}`);
  };
  if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) bad(`expected an object for config but received ${describe(cfg)}`);
  const o = cfg as unknown as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !CIFAR_FIELDS.includes(k) && o[k] !== undefined);
  if (unknown.length) bad(`unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')} (fields: ${CIFAR_FIELDS.join(', ')})`);
  for (const k of REQUIRED) if (o[k] === undefined) bad(`missing field '${k}'`);
  if (o.arch !== CIFAR_ARCH) bad(`expected '${CIFAR_ARCH}' for 'arch' but received ${shown(o.arch)}`);
  if (!VARIANTS.includes(o.variant as CifarModelVariant)) bad(`expected 'mlp' or 'wide-convnet' for 'variant' but received ${shown(o.variant)}`);
  if (o.ablation !== undefined && !ABLATIONS.includes(o.ablation as CifarAblation))
    bad(`expected one of ${ABLATIONS.map((a) => `'${a}'`).join(', ')} for 'ablation' but received ${shown(o.ablation)}`);
  if (o.variant === 'wide-convnet' && o.ablation !== undefined && o.ablation !== 'none') bad(`expected no ablation for the 'wide-convnet' variant but received ${shown(o.ablation)}`);
  for (const k of ['inChannels', 'numClasses', 'imgH', 'imgW', 'h', 'w', 'fc3Groups', 'fc1Fc2Reduction'])
    if (!isPosInt(o[k])) bad(`expected a positive integer for '${k}' but received ${shown(o[k])}`);
  if (!Array.isArray(o.channels) || o.channels.length !== 3 || !o.channels.every(isPosInt)) bad(`expected 3 positive integers (one per stage) for 'channels' but received ${shown(o.channels)}`);
  const ks = o.reparamConvK;
  if (!Array.isArray(ks) || !ks.every((k) => isPosInt(k) && k % 2 === 1) || new Set(ks).size !== ks.length)
    bad(`expected distinct odd kernel sizes for 'reparamConvK' but received ${shown(ks)}`);
  if (o.deploy !== undefined && typeof o.deploy !== 'boolean') bad(`expected a boolean for 'deploy' but received ${shown(o.deploy)}`);
  const out = { ...cfg, ablation: cfg.ablation ?? 'none', deploy: cfg.deploy ?? false } as Required<RepMLPCifarConfig>;
  for (const k of ['imgH', 'imgW'] as const) if (out[k] % 4) bad(`expected a multiple of 4 for '${k}' (two 2x2 poolings) but received ${out[k]}`);
  if (mixerOf(out).kind === 'repmlp')
    out.channels.forEach((C, i) => {
      const [H, W] = stageMap(out, i);
      if (H % out.h || W % out.w) bad(`expected a partition 'h' x 'w' that tiles stage ${i + 1}'s ${H} x ${W} map but received ${out.h} x ${out.w}`);
      if (C % out.fc3Groups) bad(`expected 'fc3Groups' to divide stage ${i + 1}'s ${C} channels but received ${out.fc3Groups}`);
    });
  return out;
}

export type CifarPresetName =
  | 'RepMLP-CIFAR-MLP' | 'RepMLP-CIFAR-WideConvNet' | 'RepMLP-CIFAR-MLP-wo-Local' | 'RepMLP-CIFAR-MLP-wo-Global'
  | 'RepMLP-CIFAR-MLP-FC3-conv9' | 'RepMLP-CIFAR-MLP-RepMLP-conv9';

function cifar(variant: CifarModelVariant, channels: number[], ablation: CifarAblation = 'none'): RepMLPCifarConfig {
  return {
    arch: CIFAR_ARCH, variant, inChannels: 3, numClasses: 10, imgH: 32, imgW: 32, channels, h: 8, w: 8, fc3Groups: 2,
    reparamConvK: [1, 3, 5], fc1Fc2Reduction: 1, ablation,
  };
}

/** Section 4.1's pure-MLP model (channels 16, 32, 64, g = 2, h = w = 8), its Wide ConvNet (32, 64, 128) and Table 1's ablations. */
export const CIFAR_PRESETS: Record<CifarPresetName, () => RepMLPCifarConfig> = {
  'RepMLP-CIFAR-MLP': () => cifar('mlp', [16, 32, 64]),
  'RepMLP-CIFAR-WideConvNet': () => cifar('wide-convnet', [32, 64, 128]),
  'RepMLP-CIFAR-MLP-wo-Local': () => cifar('mlp', [16, 32, 64], 'no-local'),
  'RepMLP-CIFAR-MLP-wo-Global': () => cifar('mlp', [16, 32, 64], 'no-global'),
  'RepMLP-CIFAR-MLP-FC3-conv9': () => cifar('mlp', [16, 32, 64], 'fc3-conv9'),
  'RepMLP-CIFAR-MLP-RepMLP-conv9': () => cifar('mlp', [16, 32, 64], 'repmlp-conv9'),
};

export function cifarPreset(name: CifarPresetName, overrides: Partial<RepMLPCifarConfig> = {}): RepMLPCifarConfig {
  const make = Object.prototype.hasOwnProperty.call(CIFAR_PRESETS, name) ? CIFAR_PRESETS[name] : undefined;
  if (!make) fail('cifarPreset', 'name', `one of ${Object.keys(CIFAR_PRESETS).join(', ')}`, describe(name));
  return { ...make(), ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) };
}

/** Parameters and multiply-adds per image of the config's form. */
export function cifarCost(config: RepMLPCifarConfig): Cost {
  const cfg = validateCifarConfig(config);
  const mixer = mixerOf(cfg);
  let inC = cfg.inChannels;
  const stages = cfg.channels.map((C, i) => {
    const [H, W] = stageMap(cfg, i);
    const fc = convBnCost(inC, C, 1, H * W, cfg.deploy);
    inC = C;
    if (mixer.kind === 'conv') return plus(fc, convBnCost(C, C, mixer.k, H * W, cfg.deploy));
    return plus(fc, repmlpCost({
      C, O: C, H, W, h: cfg.h, w: cfg.w, reparamConvK: mixer.reparamConvK, fc1Fc2Reduction: cfg.fc1Fc2Reduction, groups: cfg.fc3Groups,
      globalPerceptron: mixer.globalPerceptron, fc3Kernel: mixer.fc3Kernel, deploy: cfg.deploy,
    }));
  });
  const last = cfg.channels[2];
  return plus(...stages, { params: last * cfg.numClasses + cfg.numClasses, macs: last * cfg.numClasses });
}
