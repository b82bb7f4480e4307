// The crop and resize parameters of torchvision 0.14's transforms, drawn with repmlp's Rng:
// RandomResizedCrop.get_params (10 attempts, then a central crop), Resize(int) of the shorter
// side, and CenterCrop's offsets (Python's round: halves to even).
import type { Rng } from '../../rng';
import { pyRound } from './image';

/** A crop: top row, left column, height, width (torchvision's i, j, h, w). */
export interface Crop {
  top: number;
  left: number;
  height: number;
  width: number;
}

/** Uniform in [a, b). */
function uniform(rng: Rng, a: number, b: number): number {
  return a + (b - a) * rng.uniform();
}

/** RandomResizedCrop's crop of a width x height image: scale of the area, ratio = w / h. */
export function randomResizedCrop(rng: Rng, width: number, height: number, scale: [number, number], ratio: [number, number]): Crop {
  const area = width * height, logR = [Math.log(ratio[0]), Math.log(ratio[1])];
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * uniform(rng, scale[0], scale[1]);
    const aspect = Math.exp(uniform(rng, logR[0], logR[1]));
    const w = pyRound(Math.sqrt(target * aspect)), h = pyRound(Math.sqrt(target / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const top = rng.int(height - h + 1), left = rng.int(width - w + 1);
      return { top, left, height: h, width: w };
    }
  }
  // Fallback: the largest central crop whose ratio is within range
  const inRatio = width / height;
  let w: number, h: number;
  if (inRatio < Math.min(...ratio)) {
    w = width;
    h = pyRound(w / Math.min(...ratio));
  } else if (inRatio > Math.max(...ratio)) {
    h = height;
    w = pyRound(h * Math.max(...ratio));
  } else {
    w = width;
    h = height;
  }
  return { top: Math.trunc((height - h) / 2), left: Math.trunc((width - w) / 2), height: h, width: w };
}

/** Resize(size) of a width x height image: the shorter side becomes `size`, the longer int(size * long / short). */
export function shorterSideSize(width: number, height: number, size: number): [number, number] {
  if (width <= height) return [size, Math.trunc((size * height) / width)];
  return [Math.trunc((size * width) / height), size];
}

/** CenterCrop(th, tw) of a width x height image: [top, left]. */
export function centerCropOffsets(width: number, height: number, th: number, tw: number): [number, number] {
  return [pyRound((height - th) / 2), pyRound((width - tw) / 2)];
}
