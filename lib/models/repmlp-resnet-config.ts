// RepMLP-ResNet's configuration (the reference code's RepMLPResNet arguments), its check,
// its presets, and the plan of blocks that the model, the parameter count and the FLOPs all
// read: ResNet-50's four stages of bottleneck blocks (the first of stages 2-4 with stride 2),
// where the stride-1 blocks of stages 2 and 3 are RepMLP Light or Bottleneck blocks unless
// blockType is 'base'. Nothing here needs the native addon.
import { describe, fail, RepmlpError } from '../errors';
import { convBnCost, plus, repmlpCost, ZERO, type Cost } from './repmlp-cost';

export type ResNetBlockType = 'light' | 'bottleneck' | 'base';

export interface RepMLPResNetConfig {
  arch: 'RepMLPResNet';
  /** Blocks per stage (4 stages). */
  numBlocks: readonly number[];
  numClasses: number;
  blockType: ResNetBlockType;
  /** The input size the RepMLP blocks are built for (multiples of 32). */
  imgH: number;
  imgW: number;
  /** The RepMLP partition. */
  h: number;
  w: number;
  /** Kernel sizes of the Local Perceptron's conv branches (odd). */
  reparamConvK: readonly number[];
  fc1Fc2Reduction: number;
  fc3Groups: number;
  /** The Bottleneck Block's channel reduction r in stages 2 and 3 (default [2, 4]). */
  bottleneckR?: readonly number[];
  /** Channels of the stem (default 64) and of the four stages (default ResNet-50's 256, 512, 1024, 2048). */
  stemChannels?: number;
  channels?: readonly number[];
  /** Input channels (default 3). */
  inChannels?: number;
  /** Build the deploy form (every BN folded, RepMLP blocks converted). Default false. */
  deploy?: boolean;
}

export const RESNET_ARCH = 'RepMLPResNet';
const REQUIRED = ['arch', 'numBlocks', 'numClasses', 'blockType', 'imgH', 'imgW', 'h', 'w', 'reparamConvK', 'fc1Fc2Reduction', 'fc3Groups'] as const;
const OPTIONAL = ['bottleneckR', 'stemChannels', 'channels', 'inChannels', 'deploy'] as const;
/** Every field of RepMLPResNetConfig, in the order the errors list them. */
export const RESNET_FIELDS: readonly string[] = [...REQUIRED, ...OPTIONAL];
const BLOCK_TYPES: readonly ResNetBlockType[] = ['light', 'bottleneck', 'base'];
const defaults = () => ({ bottleneckR: [2, 4], stemChannels: 64, channels: [256, 512, 1024, 2048], inChannels: 3, deploy: false });

const isPosInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1;
const shown = (v: unknown) => JSON.stringify(v) ?? String(v);

/** One block of the plan: its kind, channels, stride and (for RepMLP blocks) the map it sees. */
export interface BlockPlan {
  type: ResNetBlockType;
  inC: number;
  midC: number;
  outC: number;
  stride: number;
  /** the map at the block's output (and a RepMLP block's input) */
  H: number;
  W: number;
  /** the Bottleneck Block's r */
  r: number;
}

/** The blocks of stages 1-4 as the reference's _make_stage lays them out. */
export function resnetPlan(cfg: Required<RepMLPResNetConfig>): BlockPlan[][] {
  let inC = cfg.stemChannels;
  return cfg.numBlocks.map((n, i) => {
    const C = cfg.channels[i], ratio = 4 * 2 ** i;
    const blocks: BlockPlan[] = [];
    for (let j = 0; j < n; j++) {
      const stride = i > 0 && j === 0 ? 2 : 1;
      // RepMLP only in the stride-1 blocks of stages 2 and 3 (total downsampling 8 and 16)
      const type: ResNetBlockType = cfg.blockType === 'base' || stride === 2 || (ratio !== 8 && ratio !== 16) ? 'base' : cfg.blockType;
      const midC = type === 'light' ? Math.floor(C / 8) : Math.floor(C / 4);
      const r = ratio === 8 ? cfg.bottleneckR[0] : cfg.bottleneckR[1];
      blocks.push({ type, inC, midC, outC: C, stride, H: cfg.imgH / ratio, W: cfg.imgW / ratio, r });
      inC = C;
    }
    return blocks;
  });
}

/** The channels of a block's RepMLP (light: mid; bottleneck: mid / r). */
export function repmlpChannels(b: BlockPlan): number {
  return b.type === 'bottleneck' ? Math.floor(b.midC / b.r) : b.midC;
}

function checkFields(o: Record<string, unknown>, bad: (what: string) => never): void {
  const unknown = Object.keys(o).filter((k) => !RESNET_FIELDS.includes(k) && o[k] !== undefined);
  if (unknown.length) bad(`unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')} (fields: ${RESNET_FIELDS.join(', ')})`);
  for (const k of REQUIRED) if (o[k] === undefined) bad(`missing field '${k}'`);
  if (o.arch !== RESNET_ARCH) bad(`expected '${RESNET_ARCH}' for 'arch' but received ${shown(o.arch)}`);
  if (!BLOCK_TYPES.includes(o.blockType as ResNetBlockType)) bad(`expected one of ${BLOCK_TYPES.map((t) => `'${t}'`).join(', ')} for 'blockType' but received ${shown(o.blockType)}`);
  for (const k of ['numClasses', 'imgH', 'imgW', 'h', 'w', 'fc1Fc2Reduction', 'fc3Groups', 'stemChannels', 'inChannels'])
    if (o[k] !== undefined && !isPosInt(o[k])) bad(`expected a positive integer for '${k}' but received ${shown(o[k])}`);
  const arrays: [string, number | null][] = [['numBlocks', 4], ['channels', 4], ['bottleneckR', 2], ['reparamConvK', null]];
  for (const [k, n] of arrays) {
    const v = o[k];
    if (v === undefined) continue;
    if (!Array.isArray(v) || !v.every(isPosInt) || (n !== null && v.length !== n))
      bad(`expected ${n === null ? 'an array of' : n} positive integers for '${k}' but received ${shown(v)}`);
  }
  const ks = o.reparamConvK as number[];
  if (ks.some((k) => k % 2 === 0) || new Set(ks).size !== ks.length) bad(`expected distinct odd kernel sizes for 'reparamConvK' but received ${shown(ks)}`);
  if (o.deploy !== undefined && typeof o.deploy !== 'boolean') bad(`expected a boolean for 'deploy' but received ${shown(o.deploy)}`);
}

// The sizes the plan needs: maps that halve exactly, partitions that tile the RepMLP maps,
// RepMLP channels that the groups divide.
function checkSizes(cfg: Required<RepMLPResNetConfig>, bad: (what: string) => never): void {
  for (const k of ['imgH', 'imgW'] as const)
    if (cfg[k] % 32) bad(`expected a multiple of 32 for '${k}' (the stem and stages halve the map five times) but received ${cfg[k]}`);
  for (const b of resnetPlan(cfg).flat()) {
    if (b.type === 'base') continue;
    if (b.H % cfg.h || b.W % cfg.w) bad(`expected a partition 'h' x 'w' that tiles the ${b.H} x ${b.W} map of a RepMLP block but received ${cfg.h} x ${cfg.w}`);
    const C = repmlpChannels(b);
    if (C < 1 || C % cfg.fc3Groups) bad(`expected 'fc3Groups' to divide the ${C} channels of a RepMLP block (stage channels ${b.outC}) but received ${cfg.fc3Groups}`);
  }
}

/** Checks a config field by field and returns it with the defaults filled in; errors start with `where`. */
export function validateResNetConfig(cfg: RepMLPResNetConfig, where = RESNET_ARCH): Required<RepMLPResNetConfig> {
  const bad = (what: string): never => {
    throw new RepmlpError(`${where}: ${what}`);
  };
  if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) bad(`expected an object for config but received ${describe(cfg)}`);
  checkFields(cfg as unknown as Record<string, unknown>, bad);
  const defined = Object.fromEntries(Object.entries(cfg).filter(([, v]) => v !== undefined));
  const out = { ...defaults(), ...defined } as unknown as Required<RepMLPResNetConfig>;
  checkSizes(out, bad);
  return out;
}

export type ResNetPresetName = 'RepMLP-Res50-Light-224' | 'RepMLP-Res50-Bottleneck-224' | 'ResNet-50';

function res50(blockType: ResNetBlockType, fc3Groups: number): RepMLPResNetConfig {
  return {
    arch: RESNET_ARCH, numBlocks: [3, 4, 6, 3], numClasses: 1000, blockType, imgH: 224, imgW: 224, h: 7, w: 7,
    reparamConvK: [1, 3, 5], fc1Fc2Reduction: 1, fc3Groups, bottleneckR: [2, 4], stemChannels: 64, channels: [256, 512, 1024, 2048],
  };
}

/** The reference's create_RepMLPRes50_Light_224 / _Bottleneck_224, and the base ResNet-50. */
export const RESNET_PRESETS: Record<ResNetPresetName, () => RepMLPResNetConfig> = {
  'RepMLP-Res50-Light-224': () => res50('light', 4),
  'RepMLP-Res50-Bottleneck-224': () => res50('bottleneck', 8),
  'ResNet-50': () => res50('base', 4),
};

/** One block of the plan: its convs (each at its output map) and its RepMLP. */
function blockCost(cfg: Required<RepMLPResNetConfig>, b: BlockPlan): Cost {
  const d = cfg.deploy, HW = b.H * b.W, inHW = HW * b.stride * b.stride;
  const conv = (inC: number, outC: number, k: number, positions = HW) => convBnCost(inC, outC, k, positions, d);
  const repmlp = (C: number) => repmlpCost({
    C, O: C, H: b.H, W: b.W, h: cfg.h, w: cfg.w, reparamConvK: cfg.reparamConvK, fc1Fc2Reduction: cfg.fc1Fc2Reduction, groups: cfg.fc3Groups, deploy: d,
  });
  const shortcut = b.inC !== b.outC || b.stride !== 1 ? conv(b.inC, b.outC, 1) : ZERO;
  if (b.type === 'base') return plus(shortcut, conv(b.inC, b.midC, 1, inHW), conv(b.midC, b.midC, 3), conv(b.midC, b.outC, 1));
  if (b.type === 'light') return plus(shortcut, conv(b.inC, b.midC, 1), repmlp(b.midC), conv(b.midC, b.outC, 1));
  const c = repmlpChannels(b);
  return plus(shortcut, conv(b.inC, b.midC, 1), conv(b.midC, c, 3), repmlp(c), conv(c, b.midC, 3), conv(b.midC, b.outC, 1));
}

/** Parameters (weights, biases, BN scales and shifts) and multiply-adds per image of the config's form. */
export function resnetCost(config: RepMLPResNetConfig): Cost {
  const cfg = validateResNetConfig(config);
  const stem = convBnCost(cfg.inChannels, cfg.stemChannels, 7, (cfg.imgH / 2) * (cfg.imgW / 2), cfg.deploy);
  const last = cfg.channels[3];
  const linear = { params: last * cfg.numClasses + cfg.numClasses, macs: last * cfg.numClasses };
  return plus(stem, ...resnetPlan(cfg).flat().map((b) => blockCost(cfg, b)), linear);
}

/** A preset's config with some fields replaced (a data set's classes and channels, the form). */
export function resnetPreset(name: ResNetPresetName, overrides: Partial<RepMLPResNetConfig> = {}): RepMLPResNetConfig {
  const make = Object.prototype.hasOwnProperty.call(RESNET_PRESETS, name) ? RESNET_PRESETS[name] : undefined;
  if (!make) fail('resnetPreset', 'name', `one of ${Object.keys(RESNET_PRESETS).join(', ')}`, describe(name));
  return { ...make(), ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) };
}
