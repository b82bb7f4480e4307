// timm's RandomErasing (random_erasing.py) on one normalised (c, h, w) float32 image: with
// probability `prob`, one box of 2% .. 1/3 of the area, aspect ratio in [0.3, 1/0.3]
// (log-uniform, 10 attempts), filled with per-pixel standard normal noise ('pixel'), one
// normal value per channel ('rand'), or zeros ('const').
import type { Rng } from '../../rng';
import { normal } from '../augment';
import { pyRound } from './image';

export type ErasingMode = 'pixel' | 'rand' | 'const';

export interface ErasingSpec {
  prob: number;
  mode: ErasingMode;
  minArea: number;
  maxArea: number;
  minAspect: number;
}

export const DEFAULT_ERASING: ErasingSpec = { prob: 0.25, mode: 'pixel', minArea: 0.02, maxArea: 1 / 3, minAspect: 0.3 };

/** The erased box [top, left, h, w], or null (not erased, or no attempt fitted). */
export function erasingBox(rng: Rng, spec: ErasingSpec, H: number, W: number): [number, number, number, number] | null {
  if (rng.uniform() > spec.prob) return null;
  const area = H * W, logA = Math.log(spec.minAspect), logB = Math.log(1 / spec.minAspect);
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = (spec.minArea + (spec.maxArea - spec.minArea) * rng.uniform()) * area;
    const aspect = Math.exp(logA + (logB - logA) * rng.uniform());
    const h = pyRound(Math.sqrt(target * aspect)), w = pyRound(Math.sqrt(target / aspect));
    if (w < W && h < H) return [rng.int(H - h + 1), rng.int(W - w + 1), h, w];
  }
  return null;
}

/** Erases in place x[off ..] of shape (c, H, W). */
export function randomErase(x: Float32Array, off: number, c: number, H: number, W: number, spec: ErasingSpec, rng: Rng): void {
  const box = erasingBox(rng, spec, H, W);
  if (!box) return;
  const [top, left, h, w] = box;
  for (let ch = 0; ch < c; ch++) {
    const v = spec.mode === 'rand' ? normal(rng) : 0;
    for (let y = top; y < top + h; y++) {
      const row = off + (ch * H + y) * W;
      for (let xx = left; xx < left + w; xx++) x[row + xx] = spec.mode === 'pixel' ? normal(rng) : v;
    }
  }
}
