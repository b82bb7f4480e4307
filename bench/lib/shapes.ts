// The shapes the FC-vs-conv benchmark compares, and their cost: multiply-adds (FLOPs are
// twice that), parameters, and the minimal bytes moved (every input, weight and output read
// or written once, float32). Convolutions count every tap of the kernel, padding included,
// as frameworks' FLOP counters do.
import { preset, type PresetName } from '../../lib/models/presets';

/** The set-sharing FC's input (N, C, h, w) and its S share-sets. */
export interface FcShape {
  N: number;
  C: number;
  h: number;
  w: number;
  S: number;
}

/** A conv on the FC's input: k x k, padding k // 2 (so the map keeps its size), Cout outputs, groups. */
export interface ConvShape {
  N: number;
  C: number;
  h: number;
  w: number;
  k: number;
  Cout: number;
  groups: number;
}

export interface Cost {
  macs: number;
  params: number;
  bytes: number;
}

const F32 = 4;

export function fcCost(s: FcShape): Cost {
  const hw = s.h * s.w;
  const params = s.S * hw * hw;
  return { macs: s.N * s.C * hw * hw, params, bytes: F32 * (2 * s.N * s.C * hw + params) };
}

export function convCost(s: ConvShape): Cost {
  const hw = s.h * s.w;
  const params = s.Cout * (s.C / s.groups) * s.k * s.k;
  return { macs: s.N * hw * params, params, bytes: F32 * (s.N * s.C * hw + params + s.N * s.Cout * hw) };
}

/** The odd kernel size whose square is nearest to `target` (the smaller on a tie), at least 1. */
export function nearestOddKernel(target: number): number {
  const r = Math.sqrt(Math.max(target, 1));
  const below = Math.max(1, Math.floor(r) % 2 ? Math.floor(r) : Math.floor(r) - 1);
  const above = below + 2;
  return Math.abs(above * above - target) < Math.abs(below * below - target) ? above : below;
}

/** The largest useful depthwise kernel on an h x w map: beyond 2 * min(h, w) - 1 every extra tap reads padding only. */
export function largestUsefulKernel(h: number, w: number): number {
  return 2 * Math.min(h, w) - 1;
}

export type Match = 'flops' | 'params';

/** A matched conv, or why none fits. */
export type Matched = { conv: ConvShape } | { conv: null; reason: string };

/**
 * The dense k x k conv on the FC's input whose output channel count makes its multiply-adds
 * (Cout * C * k^2 * hw per image vs the FC's C * hw^2) or its parameters (Cout * C * k^2 vs
 * S * hw^2) nearest to the FC's.
 */
export function denseConvMatching(fc: FcShape, k: number, match: Match): Matched {
  const hw = fc.h * fc.w;
  const exact = match === 'flops' ? hw / (k * k) : (fc.S * hw * hw) / (fc.C * k * k);
  const Cout = Math.max(1, Math.round(exact));
  return { conv: { N: fc.N, C: fc.C, h: fc.h, w: fc.w, k, Cout, groups: 1 } };
}

/**
 * The depthwise conv (C groups, C outputs) on the FC's input whose odd kernel size makes its
 * multiply-adds (C * k^2 * hw per image) or parameters (C * k^2) nearest to the FC's; none
 * when that kernel would be larger than the map can use.
 */
export function depthwiseConvMatching(fc: FcShape, match: Match): Matched {
  const hw = fc.h * fc.w;
  const target = match === 'flops' ? hw : (fc.S * hw * hw) / fc.C;
  const k = nearestOddKernel(target);
  const most = largestUsefulKernel(fc.h, fc.w);
  if (k > most)
    return { conv: null, reason: `equal ${match} needs a ${k}x${k} depthwise kernel, larger than the ${most}x${most} a ${fc.h}x${fc.w} map can use` };
  return { conv: { N: fc.N, C: fc.C, h: fc.h, w: fc.w, k, Cout: fc.C, groups: fc.C } };
}

/** The RepMLP block's multiply-adds: Global Perceptron, fc3, and (training form) the conv branches. */
export function blockMacs(fc: FcShape, ks: readonly number[], reduce = 4): number {
  const hw = fc.h * fc.w, c = Math.floor(fc.C / reduce);
  return fc.N * (2 * fc.C * c + fc.C * hw * hw + ks.reduce((s, k) => s + fc.C * k * k * hw, 0));
}

export const IMAGENET_PRESETS: readonly PresetName[] = [
  'RepMLPNet-T224', 'RepMLPNet-B224', 'RepMLPNet-T256', 'RepMLPNet-B256', 'RepMLPNet-D256', 'RepMLPNet-L256',
];

/** Stage i of a preset's FC3: its (C, h, w, S) at the stage's map size (one partition per map). */
export interface StageFc extends FcShape {
  preset: PresetName;
  stage: number;
}

export function presetFc3Shapes(names: readonly PresetName[], N: number): StageFc[] {
  return names.flatMap((name) => {
    const cfg = preset(name);
    return cfg.channels.map((C, i) => ({ preset: name, stage: i + 1, N, C, h: cfg.hs[i], w: cfg.ws[i], S: cfg.sharesetsNums[i] }));
  });
}
