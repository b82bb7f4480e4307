// The FC3 locality picture of the paper (Figure 3 / Appendix A) as numbers: for one output
// point of one RepMLP block, the FC weights over the input h x w partition before Locality
// Injection (the training-form fc3) and after it (fc3 with fc3_bn, the conv branches and
// their BNs merged in).
//
// Layout (docs/MODELS.md, lib/ops/setsharing_fc.ts): a partition's C channels are cut into
// C/S vectors of S consecutive channels, so channel c belongs to share-set s = c mod S.
// fc3.weight is (S*h*w, h*w, 1, 1); row s*hw + (y*w + x) holds the weights of output point
// (y, x) of share-set s over the hw input points (y', x'), column y'*w + x'. A k x k conv
// branch (padding k//2) adds to that row only the columns with |y' - y| <= k//2 and
// |x' - x| <= k//2: the K x K window around (y, x), clipped at the borders.
import { fail, describe } from '../errors';
import { RepMLPBlock, RepMLPNet } from '../models/repmlpnet';
import type { HostTensor } from '../io/safetensors';
import { Rng } from '../rng';

/** A k x k window centered on an output point, clipped to the map: rows [y0, y1), columns [x0, x1). */
export interface KernelWindow {
  k: number;
  y0: number;
  y1: number;
  x0: number;
  x1: number;
}

export interface LocalityMaps {
  /** where the block is in the model: stages.{stage}.{block}.repmlp_block */
  stage: number;
  block: number;
  channel: number;
  /** the output point */
  y: number;
  x: number;
  /** channels, share-sets and partition size of the block */
  C: number;
  S: number;
  h: number;
  w: number;
  /** channel mod S */
  shareSet: number;
  /** the row of fc3.weight (and of the merged weight) shown: shareSet*h*w + y*w + x */
  row: number;
  /** the largest conv kernel of the Local Perceptron; null when the block has no conv branch */
  K: number | null;
  /** the K x K window around (y, x) where the conv branches land; null without conv branches */
  window: KernelWindow | null;
  /** fc3_bn's scale of the share-set, gamma / sqrt(running_var + eps): after = bnScale * before + conv part */
  bnScale: number;
  /** signed weights of the training-form fc3 row, h*w values, row-major over the input (y', x') */
  before: Float32Array;
  /** signed weights of the same row of the merged FC after Locality Injection */
  after: Float32Array;
  /** the merged bias of the output point (fc3_bn and conv-branch biases) */
  afterBias: number;
}

export interface LocalityOptions {
  /** stage index (default 0) */
  stage?: number;
  /** block index within the stage (default 0) */
  block?: number;
  /** output channel (default 0) */
  channel?: number;
  /** output point (default the center, floor(h / 2), floor(w / 2)) */
  y?: number;
  x?: number;
}

/** The k x k window centered at (y, x) in an h x w map, clipped at the borders. */
export function kernelWindow(h: number, w: number, y: number, x: number, k: number): KernelWindow {
  const r = k >> 1;
  return { k, y0: Math.max(0, y - r), y1: Math.min(h, y + r + 1), x0: Math.max(0, x - r), x1: Math.min(w, x + r + 1) };
}

export interface WindowStats {
  /** mean |W| over the window's points */
  meanInside: number;
  /** mean |W| over the other points (NaN when the window covers the whole map) */
  meanOutside: number;
  /** meanInside / meanOutside */
  ratio: number;
}

/** Mean |W| inside and outside a window of an h x w map (row-major). */
export function windowStats(map: ArrayLike<number>, w: number, win: KernelWindow): WindowStats {
  let sumIn = 0, nIn = 0, sumOut = 0, nOut = 0;
  for (let i = 0; i < map.length; i++) {
    const y = Math.floor(i / w), x = i % w;
    const a = Math.abs(map[i]);
    if (y >= win.y0 && y < win.y1 && x >= win.x0 && x < win.x1) (sumIn += a), nIn++;
    else (sumOut += a), nOut++;
  }
  const meanInside = nIn ? sumIn / nIn : NaN, meanOutside = nOut ? sumOut / nOut : NaN;
  return { meanInside, meanOutside, ratio: meanInside / meanOutside };
}

function index(op: string, name: string, v: unknown, n: number, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= n)
    fail(op, name, `${what} in [0, ${n - 1}]`, describe(v));
  return v;
}

const OP = 'fc3LocalityMaps';

/**
 * The fc3 row of one output point of one RepMLP block before and after Locality Injection.
 * The model must be in the training form; it is left unchanged (the injection runs on a copy
 * of the block, on the block's device, with the project's own Locality Injection).
 */
export function fc3LocalityMaps(model: RepMLPNet, opts: LocalityOptions = {}): LocalityMaps {
  if (!(model instanceof RepMLPNet)) fail(OP, 'model', 'a RepMLPNet', describe(model));
  if (typeof opts !== 'object' || opts === null) fail(OP, 'options', 'an object', describe(opts));
  const stages = model.stages.items;
  const stage = index(OP, 'stage', opts.stage ?? 0, stages.length, 'a stage index');
  const units = stages[stage].items;
  const block = index(OP, 'block', opts.block ?? 0, units.length, `a block index of stage ${stage}`);
  return blockLocalityMaps(units[block].repmlpBlock, { ...opts, stage, block });
}

/** The full fc3 weight of a training-form block before and after Locality Injection. */
interface BlockWeights {
  /** fc3.weight, (S*h*w, h*w) row-major */
  before: Float32Array;
  /** the merged weight, same layout */
  after: Float32Array;
  /** the merged bias (S*h*w) */
  afterBias: Float32Array;
  /** fc3_bn's gamma / sqrt(running_var + eps) per share-set (S) */
  bnScale: Float32Array;
}

function checkTrainForm(op: string, b: unknown, where: string): RepMLPBlock {
  if (!(b instanceof RepMLPBlock)) fail(op, 'block', 'a RepMLPBlock', describe(b));
  if (b.deploy)
    fail(op, where, 'a training-form block (fc3 with fc3_bn and the conv branches)',
      'a deploy-form one (Locality Injection has already merged them, so there is no "before")');
  return b;
}

// Locality Injection on a copy: the same fc3 / fc3_bn / repconv* weights in a fresh block,
// on the block's device. The Global Perceptron plays no part in the merge, so the copy's is
// left at its init.
function blockWeights(b: RepMLPBlock): BlockWeights {
  const { C, S, h, w } = b;
  const state = b.stateDict();
  const get = (k: string): Float32Array => (state.get(k) as HostTensor).data as Float32Array;
  const gamma = get('fc3_bn.weight'), runVar = get('fc3_bn.running_var'), eps = b.fc3Bn!.eps;
  const bnScale = Float32Array.from(gamma, (g, s) => g / Math.sqrt(runVar[s] + eps));
  const copy = new RepMLPBlock(C, { h, w, S, reparamConvK: b.reparamConvK, globalPerceptronReduce: 1 }, {
    rng: new Rng(0), device: b.fc3.weight.device,
  });
  try {
    copy.loadStateDict(new Map([...state].filter(([k]) => !k.startsWith('gp.'))), { strict: false });
    copy.localityInjection();
    return { before: get('fc3.weight'), after: copy.fc3.weight.toFloat32Array(), afterBias: copy.fc3.bias!.toFloat32Array(), bnScale };
  } finally {
    copy.dispose();
  }
}

/** fc3LocalityMaps for a RepMLP block on its own (stage and block are only recorded). */
export function blockLocalityMaps(b: RepMLPBlock, opts: LocalityOptions = {}): LocalityMaps {
  const stage = opts.stage ?? 0, block = opts.block ?? 0;
  const where = `stages.${stage}.${block}.repmlp_block`;
  checkTrainForm(OP, b, where);
  const { C, S, h, w } = b;
  const hw = h * w;
  const channel = index(OP, 'channel', opts.channel ?? 0, C, `a channel of ${where}`);
  const y = index(OP, 'y', opts.y ?? h >> 1, h, `a row of the ${h} x ${w} partition`);
  const x = index(OP, 'x', opts.x ?? w >> 1, w, `a column of the ${h} x ${w} partition`);
  const shareSet = channel % S;
  const row = shareSet * hw + y * w + x;
  const bw = blockWeights(b);
  const K = b.reparamConvK.length ? Math.max(...b.reparamConvK) : null;
  return {
    stage, block, channel, y, x, C, S, h, w, shareSet, row, K,
    window: K === null ? null : kernelWindow(h, w, y, x, K),
    bnScale: bw.bnScale[shareSet],
    before: bw.before.slice(row * hw, (row + 1) * hw),
    after: bw.after.slice(row * hw, (row + 1) * hw),
    afterBias: bw.afterBias[row],
  };
}

export interface LocalitySummary {
  stage: number;
  block: number;
  S: number;
  h: number;
  w: number;
  /** the window size: the largest conv kernel unless given */
  k: number;
  /** rows pooled: every output point of every share-set, S*h*w */
  rows: number;
  /** mean |W| inside every row's window and outside it, pooled over all rows */
  before: WindowStats;
  after: WindowStats;
}

const SUMMARY = 'fc3LocalitySummary';

/**
 * The inside/outside comparison of fc3LocalityMaps pooled over every output point of every
 * share-set of one block: mean |W| inside each row's k x k window (k = the largest conv
 * kernel, or `window`) and outside it, before and after Locality Injection.
 */
export function fc3LocalitySummary(model: RepMLPNet, opts: { stage?: number; block?: number; window?: number } = {}): LocalitySummary {
  if (!(model instanceof RepMLPNet)) fail(SUMMARY, 'model', 'a RepMLPNet', describe(model));
  const stages = model.stages.items;
  const stage = index(SUMMARY, 'stage', opts.stage ?? 0, stages.length, 'a stage index');
  const units = stages[stage].items;
  const block = index(SUMMARY, 'block', opts.block ?? 0, units.length, `a block index of stage ${stage}`);
  const b = checkTrainForm(SUMMARY, units[block].repmlpBlock, `stages.${stage}.${block}.repmlp_block`);
  const K = b.reparamConvK.length ? Math.max(...b.reparamConvK) : null;
  const k = opts.window ?? K;
  if (k === null) fail(SUMMARY, 'window', 'a window size (the block has no conv branch to take it from)', 'none');
  if (!Number.isInteger(k) || k < 1 || k % 2 === 0) fail(SUMMARY, 'window', 'an odd window size', describe(k));
  const { S, h, w } = b;
  const hw = h * w;
  const bw = blockWeights(b);
  const pooled = (m: Float32Array): WindowStats => {
    let sumIn = 0, nIn = 0, sumOut = 0, nOut = 0;
    for (let s = 0; s < S; s++)
      for (let o = 0; o < hw; o++) {
        const win = kernelWindow(h, w, Math.floor(o / w), o % w, k);
        const base = (s * hw + o) * hw;
        for (let i = 0; i < hw; i++) {
          const a = Math.abs(m[base + i]), yy = Math.floor(i / w), xx = i % w;
          if (yy >= win.y0 && yy < win.y1 && xx >= win.x0 && xx < win.x1) (sumIn += a), nIn++;
          else (sumOut += a), nOut++;
        }
      }
    const meanInside = sumIn / nIn, meanOutside = nOut ? sumOut / nOut : NaN;
    return { meanInside, meanOutside, ratio: meanInside / meanOutside };
  };
  return { stage, block, S, h, w, k, rows: S * hw, before: pooled(bw.before), after: pooled(bw.after) };
}

export interface LocalityStats {
  window: KernelWindow;
  before: WindowStats;
  after: WindowStats;
}

/** Mean |W| inside and outside a window (default the conv window) of both maps; null when there is none. */
export function localityStats(maps: LocalityMaps, win: KernelWindow | null = maps.window): LocalityStats | null {
  if (win === null) return null;
  return { window: win, before: windowStats(maps.before, maps.w, win), after: windowStats(maps.after, maps.w, win) };
}
