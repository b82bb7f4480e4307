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
function normal(rng: Rng): number {
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
  return { indices, cropY, cropX, flip, mix, lam, partner, box };
}

/** Writes sample b of a plan, un-mixed: (c, outH, outW) floats at x[at...]. */
function renderSample(x: Float32Array, at: number, images: Uint8Array, spec: RenderSpec, plan: BatchPlan, b: number): void {
  const { c, h, w, outH, outW, cropPadding: p } = spec;
  const plane = outH * outW;
  const offY = (outH - h) >> 1, offX = (outW - w) >> 1;
  const src = plan.indices[b] * c * h * w;
  const dy = plan.cropY[b] - p - offY, dx = plan.cropX[b] - p - offX;
  const flip = plan.flip[b] === 1;
  for (let ch = 0; ch < c; ch++) {
    const scale = 1 / (255 * spec.std[ch]), zero = -spec.mean[ch] / spec.std[ch];
    const dst = at + ch * plane, s0 = src + ch * h * w;
    for (let y = 0; y < outH; y++) {
      const sy = y + dy, row = dst + y * outW;
      if (sy < 0 || sy >= h) {
        x.fill(zero, row, row + outW);
        continue;
      }
      for (let xx = 0; xx < outW; xx++) {
        const sx = (flip ? outW - 1 - xx : xx) + dx;
        x[row + xx] = sx >= 0 && sx < w ? images[s0 + sy * w + sx] * scale + zero : zero;
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
  const { c, outH, outW } = spec;
  const B = hi - lo, plane = outH * outW, per = c * plane;
  const x = new Float32Array(B * per);
  const lab = new BigInt64Array(B);
  for (let b = 0; b < B; b++) {
    renderSample(x, b * per, images, spec, plan, lo + b);
    lab[b] = BigInt(labels[plan.indices[lo + b]]);
  }
  if (plan.mix === 'none') return { x, labels: lab };
  const K = spec.numClasses, lam = plan.lam;
  const targets = new Float32Array(B * K);
  for (let b = 0; b < B; b++) {
    targets[b * K + Number(lab[b])] += lam;
    targets[b * K + labels[plan.indices[plan.partner[lo + b]]]] += 1 - lam;
  }
  // The partner's un-mixed pixels: a rendered row, or rendered here when outside the rows.
  const other = new Float32Array(per);
  const partner = (b: number): [Float32Array, number] => {
    const q = plan.partner[lo + b];
    if (q >= lo && q < hi) return [x, (q - lo) * per];
    renderSample(other, 0, images, spec, plan, q);
    return [other, 0];
  };
  const out = new Float32Array(x.length);
  if (plan.mix === 'mixup') {
    for (let b = 0; b < B; b++) {
      const o = b * per, [px, q] = partner(b);
      for (let i = 0; i < per; i++) out[o + i] = lam * x[o + i] + (1 - lam) * px[q + i];
    }
  } else {
    out.set(x);
    const [y0, y1, x0, x1] = plan.box;
    for (let b = 0; b < B; b++) {
      const [px, q0] = partner(b);
      for (let ch = 0; ch < c; ch++) {
        const o = b * per + ch * plane, q = q0 + ch * plane;
        for (let y = y0; y < y1; y++) out.set(px.subarray(q + y * outW + x0, q + y * outW + x1), o + y * outW + x0);
      }
    }
  }
  return { x: out, labels: lab, targets };
}
