// Batch preparation, split in two so that a worker thread can do the heavy part:
//   planBatch   (main thread) draws every random choice of a batch from the loader's Rng;
//   renderBatch (main thread or worker) turns the plan into pixels, deterministically.
// The same plan renders to the same bytes wherever it runs.
//
// Per sample: zero-pad the (c, h, w) uint8 image to (outH, outW), centred; random crop with
// `cropPadding` zeros on every side (torchvision RandomCrop(padding)); horizontal flip;
// normalise (v / 255 - mean[c]) / std[c]. Per batch: mixup or CutMix with a shuffled partner.
import { Rng } from '../rng';

/** Everything renderBatch needs to know about the data and the transform (structured-clonable). */
export interface RenderSpec {
  c: number;
  h: number;
  w: number;
  outH: number;
  outW: number;
  /** per channel, in units of pixel/255 */
  mean: number[];
  std: number[];
  /** zeros added on each side before the random crop; 0 = no crop */
  cropPadding: number;
  flip: boolean;
  /** Beta(alpha, alpha) parameters; 0 = off */
  mixupAlpha: number;
  cutmixAlpha: number;
  numClasses: number;
}

export interface BatchPlan {
  /** (B) dataset rows */
  indices: Int32Array;
  /** (B) crop offsets in [0, 2 * cropPadding] */
  cropY: Int32Array;
  cropX: Int32Array;
  /** (B) 1 = flip horizontally */
  flip: Uint8Array;
  mix: 'none' | 'mixup' | 'cutmix';
  /** weight of the sample's own label (after the CutMix box is clipped) */
  lam: number;
  /** (B) the batch position mixed into each sample */
  partner: Int32Array;
  /** CutMix box [y0, y1, x0, x1) in output pixels */
  box: [number, number, number, number];
}

export interface Rendered {
  /** (B, c, outH, outW) */
  x: Float32Array;
  /** (B) hard labels */
  labels: BigInt64Array;
  /** (B, numClasses) soft targets when mixup or CutMix is on */
  targets?: Float32Array;
}

/** Standard normal from two uniforms (no cached spare, so the Rng state says everything). */
export function normal(rng: Rng): number {
  const u = 1 - rng.uniform();
  const v = rng.uniform();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Gamma(a, 1) by Marsaglia and Tsang; a < 1 through Gamma(a + 1) * U^(1/a). */
export function sampleGamma(rng: Rng, a: number): number {
  if (a < 1) return sampleGamma(rng, a + 1) * Math.pow(1 - rng.uniform(), 1 / a);
  const d = a - 1 / 3, c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number, v: number;
    do {
      x = normal(rng);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = 1 - rng.uniform();
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}

/** Beta(a, a). */
export function sampleBeta(rng: Rng, a: number): number {
  const x = sampleGamma(rng, a), y = sampleGamma(rng, a);
  return x + y > 0 ? x / (x + y) : 0.5;
}

/** Draws the random choices of one batch of `indices`, advancing rng. */
export function planBatch(rng: Rng, indices: Int32Array, spec: RenderSpec): BatchPlan {
  const B = indices.length;
  const cropY = new Int32Array(B), cropX = new Int32Array(B), flip = new Uint8Array(B);
  const p = spec.cropPadding;
  for (let b = 0; b < B; b++) {
    if (p > 0) {
      cropY[b] = rng.int(2 * p + 1);
      cropX[b] = rng.int(2 * p + 1);
    } else {
      cropY[b] = cropX[b] = 0;
    }
    if (spec.flip) flip[b] = rng.uniform() < 0.5 ? 1 : 0;
  }
  return { indices, cropY, cropX, flip, ...planMix(rng, B, spec) };
}

/** What mixBatch needs: the Beta parameters (0 = off), the output size and the number of classes. */
export type MixSpec = Pick<RenderSpec, 'mixupAlpha' | 'cutmixAlpha' | 'outH' | 'outW' | 'numClasses'>;

/** The batch-level part of a plan: mixup or CutMix (or none), lam, the partners and the CutMix box. */
export type MixPlan = Pick<BatchPlan, 'mix' | 'lam' | 'partner' | 'box'>;

/** Draws mixup / CutMix for a batch of B (one of them at random when both are on), advancing rng. */
export function planMix(rng: Rng, B: number, spec: MixSpec): MixPlan {
  let mix: BatchPlan['mix'] = 'none';
  if (spec.mixupAlpha > 0 && spec.cutmixAlpha > 0) mix = rng.uniform() < 0.5 ? 'cutmix' : 'mixup';
  else if (spec.mixupAlpha > 0) mix = 'mixup';
  else if (spec.cutmixAlpha > 0) mix = 'cutmix';
  const partner = new Int32Array(B);
  for (let b = 0; b < B; b++) partner[b] = b;
  let lam = 1;
  const box: [number, number, number, number] = [0, 0, 0, 0];
  if (mix !== 'none') {
    for (let i = B - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      const t = partner[i];
      partner[i] = partner[j];
      partner[j] = t;
    }
    lam = sampleBeta(rng, mix === 'mixup' ? spec.mixupAlpha : spec.cutmixAlpha);
    if (mix === 'cutmix') {
      const H = spec.outH, W = spec.outW, r = Math.sqrt(1 - lam);
      const ch = Math.floor(H * r), cw = Math.floor(W * r);
      const cy = rng.int(H), cx = rng.int(W);
      box[0] = Math.min(Math.max(cy - (ch >> 1), 0), H);
      box[1] = Math.min(Math.max(cy + (ch >> 1), 0), H);
      box[2] = Math.min(Math.max(cx - (cw >> 1), 0), W);
      box[3] = Math.min(Math.max(cx + (cw >> 1), 0), W);
      lam = 1 - ((box[1] - box[0]) * (box[3] - box[2])) / (H * W);
    }
  }
  return { mix, lam, partner, box };
}

/** Where one sample is taken from and how (the per-sample part of a plan). */
export interface SampleGeometry {
  /** crop offsets in [0, 2 * cropPadding] */
  cropY: number;
  cropX: number;
  flip: boolean;
}

/**
 * Renders one (c, h, w) uint8 image that starts at images[src] into out[dst..] as (c, outH, outW)
 * float32: zero-padded (centred), cropped, flipped and normalised as the spec says.
 */
export function renderSample(
  images: Uint8Array, src: number, spec: Pick<RenderSpec, 'c' | 'h' | 'w' | 'outH' | 'outW' | 'mean' | 'std' | 'cropPadding'>,
  g: SampleGeometry, out: Float32Array, dst: number,
): void {
  const { c, h, w, outH, outW, cropPadding: p } = spec;
  const plane = outH * outW;
  const dy = g.cropY - p - ((outH - h) >> 1), dx = g.cropX - p - ((outW - w) >> 1);
  for (let ch = 0; ch < c; ch++) {
    const scale = 1 / (255 * spec.std[ch]), zero = -spec.mean[ch] / spec.std[ch];
    const d0 = dst + ch * plane, s0 = src + ch * h * w;
    for (let y = 0; y < outH; y++) {
      const sy = y + dy, row = d0 + y * outW;
      if (sy < 0 || sy >= h) {
        out.fill(zero, row, row + outW);
        continue;
      }
      for (let xx = 0; xx < outW; xx++) {
        const sx = (g.flip ? outW - 1 - xx : xx) + dx;
        out[row + xx] = sx >= 0 && sx < w ? images[s0 + sy * w + sx] * scale + zero : zero;
      }
    }
  }
}

/**
 * Renders rows [lo, hi) of a planned batch (default: all of it) from (N, c, h, w) uint8 images
 * and (N) labels: one rank's share of a global batch renders exactly those rows of what the
 * whole batch renders (a mixing partner outside the rows is rendered for the mix alone).
 */
export function renderBatch(images: Uint8Array, labels: ArrayLike<number>, spec: RenderSpec, plan: BatchPlan, lo = 0, hi = plan.indices.length): Rendered {
  const { c, h, w, outH, outW } = spec;
  const B = hi - lo, per = c * outH * outW;
  const x = new Float32Array(B * per);
  const lab = new BigInt64Array(B);
  const render = (q: number, out: Float32Array, at: number) =>
    renderSample(images, plan.indices[q] * c * h * w, spec, { cropY: plan.cropY[q], cropX: plan.cropX[q], flip: plan.flip[q] === 1 }, out, at);
  for (let b = 0; b < B; b++) {
    lab[b] = BigInt(labels[plan.indices[lo + b]]);
    render(lo + b, x, b * per);
  }
  const other = new Float32Array(per);
  return mixBatch(x, lab, c, spec, plan, (b) => {
    const q = plan.partner[lo + b], label = labels[plan.indices[q]];
    if (q >= lo && q < hi) return { x, at: (q - lo) * per, label };
    render(q, other, 0);
    return { x: other, at: 0, label };
  });
}

/** Where a row's mixing partner is: its un-mixed (c, outH, outW) pixels at x[at...], and its label. */
export interface PartnerRow {
  x: Float32Array;
  at: number;
  label: number;
}

/**
 * Applies a MixPlan to a rendered batch x (B, c, outH, outW) with hard labels lab (B): the mixed
 * pixels and the (B, numClasses) soft targets; x and lab as they are when the plan mixes nothing.
 * The rows may be a share of the planned batch: `partnerOf(b)` finds row b's partner, in x or
 * elsewhere; it is called once per row, so it may hand back the same scratch buffer every time.
 */
export function mixBatch(x: Float32Array, lab: BigInt64Array, c: number, spec: MixSpec, plan: MixPlan, partnerOf: (b: number) => PartnerRow): Rendered {
  if (plan.mix === 'none') return { x, labels: lab };
  const B = lab.length, plane = spec.outH * spec.outW, per = c * plane, outW = spec.outW;
  const K = spec.numClasses, lam = plan.lam;
  const targets = new Float32Array(B * K);
  const out = plan.mix === 'mixup' ? new Float32Array(x.length) : Float32Array.from(x);
  const [y0, y1, x0, x1] = plan.box;
  for (let b = 0; b < B; b++) {
    const { x: px, at: q, label } = partnerOf(b);
    targets[b * K + Number(lab[b])] += lam;
    targets[b * K + label] += 1 - lam;
    const o = b * per;
    if (plan.mix === 'mixup') {
      for (let i = 0; i < per; i++) out[o + i] = lam * x[o + i] + (1 - lam) * px[q + i];
      continue;
    }
    for (let ch = 0; ch < c; ch++) {
      const oc = o + ch * plane, qc = q + ch * plane;
      for (let y = y0; y < y1; y++) out.set(px.subarray(qc + y * outW + x0, qc + y * outW + x1), oc + y * outW + x0);
    }
  }
  return { x: out, labels: lab, targets };
}
