// The state dict a config's RepMLPNet has, without building it (the ImageNet models are
// large): every key in the order the modules register it (a module's parameters, then its
// buffers, then its children, as PyTorch's state_dict()), with its shape. The parameter
// count and the matching of a checkpoint's keys to a config (infer.ts) come from it; the
// tests check it against built models.
import type { RepMLPNetConfig } from './repmlpnet';
import { patchPair } from './geometry';

export interface KeyShape {
  shape: number[];
  /** a parameter (trained), not a buffer (BN running statistics) */
  parameter: boolean;
}

type Shapes = Map<string, KeyShape>;

function param(out: Shapes, key: string, shape: number[]): void {
  out.set(key, { shape, parameter: true });
}

function batchNorm(out: Shapes, at: string, C: number): void {
  param(out, `${at}.weight`, [C]);
  param(out, `${at}.bias`, [C]);
  out.set(`${at}.running_mean`, { shape: [C], parameter: false });
  out.set(`${at}.running_var`, { shape: [C], parameter: false });
  out.set(`${at}.num_batches_tracked`, { shape: [], parameter: false });
}

function convBn(out: Shapes, at: string, weight: number[]): void {
  param(out, `${at}.conv.weight`, weight);
  batchNorm(out, `${at}.bn`, weight[0]);
}

function repmlpBlock(out: Shapes, at: string, cfg: RepMLPNetConfig, i: number): void {
  const C = cfg.channels[i], S = cfg.sharesetsNums[i], hw = cfg.hs[i] * cfg.ws[i];
  const c = Math.floor(C / (cfg.globalPerceptronReduce ?? 4));
  param(out, `${at}.gp.fc1.weight`, [c, C, 1, 1]);
  param(out, `${at}.gp.fc1.bias`, [c]);
  param(out, `${at}.gp.fc2.weight`, [C, c, 1, 1]);
  param(out, `${at}.gp.fc2.bias`, [C]);
  param(out, `${at}.fc3.weight`, [S * hw, hw, 1, 1]);
  if (cfg.deploy) {
    param(out, `${at}.fc3.bias`, [S * hw]);
    return;
  }
  batchNorm(out, `${at}.fc3_bn`, S);
  for (const k of cfg.reparamConvK) convBn(out, `${at}.repconv${k}`, [S, 1, k, k]);
}

function unit(out: Shapes, at: string, cfg: RepMLPNetConfig, i: number): void {
  const C = cfg.channels[i];
  repmlpBlock(out, `${at}.repmlp_block`, cfg, i);
  convBn(out, `${at}.ffn_block.ffn_fc1`, [4 * C, C, 1, 1]);
  convBn(out, `${at}.ffn_block.ffn_fc2`, [C, 4 * C, 1, 1]);
  batchNorm(out, `${at}.prebn1`, C);
  batchNorm(out, `${at}.prebn2`, C);
}

/** The keys outside the stages' units: the stem, the embeddings between stages and the head (the stages' units are spliced in by `units`). */
function shapesAround(cfg: RepMLPNetConfig, units: (out: Shapes) => void): Shapes {
  const out: Shapes = new Map();
  const ch = cfg.channels;
  convBn(out, 'conv_embedding', [ch[0], cfg.inChannels, ...patchPair(cfg)]);
  units(out);
  for (let i = 0; i + 1 < ch.length; i++) convBn(out, `embeds.${i}`, [ch[i + 1], ch[i], 2, 2]);
  const last = ch[ch.length - 1];
  batchNorm(out, 'head_norm', last);
  param(out, 'head.weight', [cfg.numClasses, last]);
  param(out, 'head.bias', [cfg.numClasses]);
  return out;
}

/** Every key of the config's state dict with its shape, in the model's order. */
export function stateDictShapes(cfg: RepMLPNetConfig): Map<string, KeyShape> {
  return shapesAround(cfg, (out) =>
    cfg.numBlocks.forEach((blocks, i) => {
      for (let j = 0; j < blocks; j++) unit(out, `stages.${i}.${j}`, cfg, i);
    }));
}

function parameters(shapes: Shapes): number {
  let n = 0;
  for (const { shape, parameter } of shapes.values()) if (parameter) n += shape.reduce((a, d) => a * d, 1);
  return n;
}

/** The parameter count of a config, without building it (one unit per stage counted, times its units). */
export function parameterCount(cfg: RepMLPNetConfig): number {
  let n = parameters(shapesAround(cfg, () => {}));
  cfg.numBlocks.forEach((blocks, i) => {
    const one: Shapes = new Map();
    unit(one, 'u', cfg, i);
    n += blocks * parameters(one);
  });
  return n;
}
