// RandAugment policies by name:
//   'raug15'  RepMLP's RandAugPolicy(magnitude=15) (its randaug.py): 2 layers, each an op chosen
//             uniformly from 16 (Cutout included), always applied, with an integer magnitude
//             drawn uniformly from 0..14 (levels past 10 unclipped); fill (128, 128, 128);
//             bilinear or bicubic chosen at random for each geometric op.
//   'rand-m9-mstd0.5-inc1' and other timm strings (auto_augment.py, rand_augment_transform):
//             m magnitude, n layers (2), p probability per op (0.5), mstd the std of a Gaussian
//             magnitude (> 100: uniform in [0, m]), mmax the clip (10), inc1 the 'increasing'
//             op set; fill = round(255 * mean); the training interpolation.
import { describe, fail } from '../../errors';
import type { Rng } from '../../rng';
import { normal } from '../augment';
import { rotate, shearX, shearY, translateX, translateY } from './affine';
import { pyRound, type Image8 } from './image';
import * as px from './pixel-ops';
import type { Interpolation } from './resample';

export type AugOpName =
  | 'AutoContrast' | 'Equalize' | 'Invert' | 'Rotate' | 'Posterize' | 'PosterizeIncreasing' | 'Solarize'
  | 'SolarizeIncreasing' | 'SolarizeAdd' | 'Color' | 'ColorIncreasing' | 'Contrast' | 'ContrastIncreasing'
  | 'Brightness' | 'BrightnessIncreasing' | 'Sharpness' | 'SharpnessIncreasing' | 'ShearX' | 'ShearY'
  | 'TranslateXRel' | 'TranslateYRel' | 'Cutout';

/** A policy, ready to apply (structured-clonable). */
export interface RandAugmentSpec {
  name: string;
  ops: AugOpName[];
  layers: number;
  /** probability that a chosen op is applied */
  prob: number;
  magnitude: number;
  /** 'gauss' (timm; std 0 = fixed), 'uniform' (timm mstd > 100) or 'integer' (raug15: an integer in [0, magnitude)) */
  magnitudeMode: 'gauss' | 'uniform' | 'integer';
  magnitudeStd: number;
  /** clip of the drawn magnitude (timm: [0, mmax]); null = none */
  magnitudeMax: number | null;
  /** timm's caps on the solarize levels (256) and solarize-add (128) */
  clampLevels: boolean;
  fill: number[];
  interpolation: Interpolation | 'random';
}

const RAND_TRANSFORMS: AugOpName[] = ['AutoContrast', 'Equalize', 'Invert', 'Rotate', 'Posterize', 'Solarize', 'SolarizeAdd',
  'Color', 'Contrast', 'Brightness', 'Sharpness', 'ShearX', 'ShearY', 'TranslateXRel', 'TranslateYRel'];
const RAND_INCREASING: AugOpName[] = ['AutoContrast', 'Equalize', 'Invert', 'Rotate', 'PosterizeIncreasing', 'SolarizeIncreasing',
  'SolarizeAdd', 'ColorIncreasing', 'ContrastIncreasing', 'BrightnessIncreasing', 'SharpnessIncreasing', 'ShearX', 'ShearY',
  'TranslateXRel', 'TranslateYRel'];

/** The named policy, for a transform normalising with `mean` and resampling with `interpolation`. */
export function randAugmentPolicy(name: string, mean: readonly number[], interpolation: Interpolation): RandAugmentSpec {
  if (name === 'raug15')
    return {
      name, ops: [...RAND_TRANSFORMS, 'Cutout'], layers: 2, prob: 1, magnitude: 15, magnitudeMode: 'integer', magnitudeStd: 0,
      magnitudeMax: null, clampLevels: false, fill: [128, 128, 128], interpolation: 'random',
    };
  const parts = name.split('-');
  if (parts[0] !== 'rand') fail('randAugment', 'policy', "'raug15' or a timm string such as 'rand-m9-mstd0.5-inc1'", describe(name));
  const s: RandAugmentSpec = {
    name, ops: RAND_TRANSFORMS, layers: 2, prob: 0.5, magnitude: 10, magnitudeMode: 'gauss', magnitudeStd: 0, magnitudeMax: 10,
    clampLevels: true, fill: mean.map((m) => Math.min(255, pyRound(255 * m))), interpolation,
  };
  for (const part of parts.slice(1)) {
    const m = /^([a-z]+)(\d.*)$/.exec(part), v = m ? Number(m[2]) : NaN;
    if (!m || !Number.isFinite(v)) fail('randAugment', `'${part}' in the policy`, 'm<int>, n<int>, p<float>, mstd<float>, mmax<int> or inc<0|1>', describe(name));
    if (m[1] === 'm') s.magnitude = Math.trunc(v);
    else if (m[1] === 'n') s.layers = Math.trunc(v);
    else if (m[1] === 'p') s.prob = v;
    else if (m[1] === 'mstd') [s.magnitudeMode, s.magnitudeStd] = v > 100 ? ['uniform', 0] : ['gauss', v];
    else if (m[1] === 'mmax') s.magnitudeMax = Math.trunc(v);
    else if (m[1] === 'inc') s.ops = m[2] !== '0' ? RAND_INCREASING : RAND_TRANSFORMS;
    else fail('randAugment', `'${part}' in the policy`, 'one of m, n, p, mstd, mmax, inc', describe(name));
  }
  return s;
}

/** Negates v with probability 1/2 (timm's _randomly_negate). */
const negate = (rng: Rng, v: number) => (rng.uniform() > 0.5 ? -v : v);
/** The 'increasing' enhance factor: 1 +- 0.9 level, at least 0.1. */
const incFactor = (rng: Rng, l: number) => Math.max(0.1, 1 + negate(rng, l * 0.9));

/** Applies op `name` at `magnitude`, drawing its sign (and, for 'random', its interpolation) from rng. */
export function applyOp(img: Image8, name: AugOpName, magnitude: number, spec: RandAugmentSpec, rng: Rng): Image8 {
  const l = magnitude / 10;
  const geo = (): Interpolation => (spec.interpolation === 'random' ? (rng.uniform() < 0.5 ? 'bilinear' : 'bicubic') : spec.interpolation);
  const cap = (v: number, max: number) => (spec.clampLevels ? Math.min(max, v) : v);
  switch (name) {
    case 'AutoContrast': return px.autocontrast(img);
    case 'Equalize': return px.equalize(img);
    case 'Invert': return px.invert(img);
    case 'Rotate': { const d = negate(rng, l * 30); return rotate(img, d, geo(), spec.fill); }
    case 'Posterize': return px.posterize(img, Math.trunc(l * 4));
    case 'PosterizeIncreasing': return px.posterize(img, 4 - Math.trunc(l * 4));
    case 'Solarize': return px.solarize(img, cap(Math.trunc(l * 256), 256));
    case 'SolarizeIncreasing': return px.solarize(img, 256 - cap(Math.trunc(l * 256), 256));
    case 'SolarizeAdd': return px.solarizeAdd(img, cap(Math.trunc(l * 110), 128));
    case 'Color': return px.color(img, l * 1.8 + 0.1);
    case 'ColorIncreasing': return px.color(img, incFactor(rng, l));
    case 'Contrast': return px.contrast(img, l * 1.8 + 0.1);
    case 'ContrastIncreasing': return px.contrast(img, incFactor(rng, l));
    case 'Brightness': return px.brightness(img, l * 1.8 + 0.1);
    case 'BrightnessIncreasing': return px.brightness(img, incFactor(rng, l));
    case 'Sharpness': return px.sharpness(img, l * 1.8 + 0.1);
    case 'SharpnessIncreasing': return px.sharpness(img, incFactor(rng, l));
    case 'ShearX': { const f = negate(rng, l * 0.3); return shearX(img, f, geo(), spec.fill); }
    case 'ShearY': { const f = negate(rng, l * 0.3); return shearY(img, f, geo(), spec.fill); }
    case 'TranslateXRel': { const p = negate(rng, l * 0.45); return translateX(img, p * img.width, geo(), spec.fill); }
    case 'TranslateYRel': { const p = negate(rng, l * 0.45); return translateY(img, p * img.height, geo(), spec.fill); }
    case 'Cutout': return cutout(img, Math.max(2, l * 40), rng);
  }
}

/** RepMLP's Cutout: a square of side int(size) around a random centre, clipped, painted (125, 122, 113). */
export function cutout(img: Image8, size: number, rng: Rng): Image8 {
  const { width: W, height: H, channels: c } = img, s = Math.trunc(size), half = s >> 1, data = img.data.slice();
  const cx = rng.int(W), cy = rng.int(H), colour = [125, 122, 113];
  for (let y = Math.max(0, cy - half); y < Math.min(H, cy + half); y++)
    for (let x = Math.max(0, cx - half); x < Math.min(W, cx + half); x++)
      for (let ch = 0; ch < c; ch++) data[(y * W + x) * c + ch] = colour[ch];
  return { ...img, data };
}

function drawMagnitude(spec: RandAugmentSpec, rng: Rng): number {
  let m = spec.magnitude;
  if (spec.magnitudeMode === 'integer') return rng.int(spec.magnitude);
  if (spec.magnitudeMode === 'uniform') m = rng.uniform() * m;
  else if (spec.magnitudeStd > 0) m += spec.magnitudeStd * normal(rng);
  return spec.magnitudeMax === null ? m : Math.max(0, Math.min(m, spec.magnitudeMax));
}

/** `layers` ops chosen uniformly with replacement, each applied with probability `prob`. */
export function randAugment(img: Image8, spec: RandAugmentSpec, rng: Rng): Image8 {
  const chosen: AugOpName[] = [];
  for (let i = 0; i < spec.layers; i++) chosen.push(spec.ops[rng.int(spec.ops.length)]);
  for (const op of chosen) {
    if (spec.prob < 1 && rng.uniform() > spec.prob) continue;
    img = applyOp(img, op, drawMagnitude(spec, rng), spec, rng);
  }
  return img;
}
