// One sample's transform, from an encoded image to normalised (c, size, size) float32:
//   training, size > smallImage (64): RandomResizedCrop (decoding only the crop), horizontal
//     flip, RandAugment, ToTensor + Normalize, random erasing;
//   training, size <= smallImage: the image fitted to size x size (shorter side resized, centre
//     crop), then the CIFAR recipe of lib/data/augment.ts: zero-padded random crop and flip
//     (the output optionally zero-padded to padTo x padTo first, as Fashion-MNIST's 28 to 32);
//   evaluation: the shorter side resized to int(size / cropPct), centre crop (cropPct 1 for
//     small images, which are then padded to padTo), ToTensor + Normalize.
// Every random choice comes from the Rng given (sampleRng(seed, epoch, index) in the loader).
import { describe, fail } from '../../errors';
import type { Rng } from '../../rng';
import { renderSample } from '../augment';
import { decodeBuffer, readHeader, type ImageHeader } from './decode';
import { randomErase, DEFAULT_ERASING, type ErasingSpec } from './erasing';
import { centerCropOffsets, randomResizedCrop, shorterSideSize, type Crop } from './geometry';
import type { Image8 } from './image';
import { randAugment, randAugmentPolicy, type RandAugmentSpec } from './randaugment';
import { resize, type Interpolation } from './resample';

/** At or below this size (the default smallImage) images take the small-image (CIFAR) recipe and are fitted whole. */
export const SMALL_IMAGE = 64;

export const IMAGENET_MEAN = [0.485, 0.456, 0.406];
export const IMAGENET_STD = [0.229, 0.224, 0.225];

/** What a user chooses; everything has a default. */
export interface ImageTransformOptions {
  /** output height and width (default 224) */
  size?: number;
  /** 3 (RGB, default) or 1 (grey: ITU-R 601 luma) */
  channels?: 1 | 3;
  /** training transform (random) or evaluation transform (default false) */
  train?: boolean;
  /** per channel, in units of pixel / 255 (default ImageNet's; one channel: their mean) */
  mean?: number[];
  std?: number[];
  /** resampling of crops and RandAugment's geometric ops (default 'bilinear', as torchvision) */
  interpolation?: Interpolation;
  /**
   * who resizes: 'pil' (default: PIL's algorithm, the same bytes as torchvision) or 'libvips'
   * (sharp resizes while decoding: faster, within the differences docs/IMAGES.md gives)
   */
  resampler?: 'pil' | 'libvips';
  /** RandomResizedCrop's area fraction and aspect ratio ranges (default [0.08, 1], [3/4, 4/3]) */
  scale?: [number, number];
  ratio?: [number, number];
  /** random horizontal flip when training (default true) */
  flip?: boolean;
  /** 'raug15', a timm string such as 'rand-m9-mstd0.5-inc1', or null (default) */
  randAugment?: string | null;
  /** random erasing: a probability (mode 'pixel'), a spec, or null (default) */
  erasing?: number | Partial<ErasingSpec> | null;
  /** evaluation centre crop fraction (default 0.875: resize to int(size / 0.875)) */
  cropPct?: number;
  /** at or below this size the small-image (CIFAR) recipe is used (default 64) */
  smallImage?: number;
  /** zeros on each side before the small-image random crop (default 4) */
  cropPadding?: number;
  /**
   * small images only: zero-pad (centred) the size x size image to padTo x padTo (default
   * size), as the DataLoader pads Fashion-MNIST's 28 x 28 to a 32 x 32 model
   */
  padTo?: number;
  /** decode pixel limit (default DEFAULT_MAX_PIXELS) */
  maxPixels?: number;
}

/** The resolved transform (structured-clonable, sent to the workers). */
export interface TransformSpec {
  size: number;
  channels: 1 | 3;
  train: boolean;
  mean: number[];
  std: number[];
  interpolation: Interpolation;
  resampler: 'pil' | 'libvips';
  small: boolean;
  scale: [number, number];
  ratio: [number, number];
  flip: boolean;
  randAugment: RandAugmentSpec | null;
  erasing: ErasingSpec | null;
  cropPct: number;
  cropPadding: number;
  /** the height and width of the output: padTo, or size */
  outputSize: number;
  maxPixels?: number;
}

const OP = 'imageTransform';

function num(name: string, v: unknown, ok: (x: number) => boolean, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) fail(OP, name, what, describe(v));
  return v as number;
}

function range(name: string, v: unknown, lo: number): [number, number] {
  if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => typeof x === 'number' && x > lo && Number.isFinite(x)) || v[0] > v[1])
    fail(OP, name, `[min, max] with ${lo} < min <= max`, describe(v));
  return [v[0], v[1]];
}

function channelList(name: string, v: unknown, c: number, positive: boolean): number[] {
  if (!Array.isArray(v) || v.length !== c || !v.every((x) => Number.isFinite(x) && (!positive || x > 0)))
    fail(OP, name, `${c} ${positive ? 'positive' : 'finite'} numbers`, describe(v));
  return [...(v as number[])];
}

function erasingSpec(e: ImageTransformOptions['erasing']): ErasingSpec | null {
  if (e === undefined || e === null || e === 0) return null;
  const s = typeof e === 'number' ? { ...DEFAULT_ERASING, prob: e } : { ...DEFAULT_ERASING, ...e };
  num('erasing.prob', s.prob, (p) => p >= 0 && p <= 1, 'a probability in [0, 1]');
  if (!['pixel', 'rand', 'const'].includes(s.mode)) fail(OP, 'erasing.mode', "'pixel', 'rand' or 'const'", describe(s.mode));
  return s;
}

/** Checks the options and fills in the defaults. */
export function transformSpec(o: ImageTransformOptions = {}): TransformSpec {
  const size = num('size', o.size ?? 224, (v) => Number.isInteger(v) && v >= 1, 'an integer >= 1');
  const channels = o.channels ?? 3;
  if (channels !== 1 && channels !== 3) fail(OP, 'channels', '1 or 3', describe(channels));
  const grey = (xs: number[]) => [xs.reduce((a, b) => a + b, 0) / xs.length];
  const mean = channelList('mean', o.mean ?? (channels === 3 ? IMAGENET_MEAN : grey(IMAGENET_MEAN)), channels, false);
  const std = channelList('std', o.std ?? (channels === 3 ? IMAGENET_STD : grey(IMAGENET_STD)), channels, true);
  const interpolation = o.interpolation ?? 'bilinear';
  if (interpolation !== 'bilinear' && interpolation !== 'bicubic') fail(OP, 'interpolation', "'bilinear' or 'bicubic'", describe(interpolation));
  const resampler = o.resampler ?? 'pil';
  if (resampler !== 'pil' && resampler !== 'libvips') fail(OP, 'resampler', "'pil' or 'libvips'", describe(resampler));
  const small = size <= num('smallImage', o.smallImage ?? SMALL_IMAGE, (v) => v >= 0, 'a number >= 0');
  const train = o.train ?? false;
  const ra = o.randAugment ?? null;
  if (ra !== null && small) fail(OP, 'randAugment', `null for images of ${size} px (the small-image recipe is pad, crop and flip)`, describe(ra));
  const outputSize = num('padTo', o.padTo ?? size, (v) => Number.isInteger(v) && v >= size && (v === size || small), `an integer >= size (${size}) for small images, or size`);
  return {
    size, channels, train, mean, std, interpolation, resampler, small,
    scale: range('scale', o.scale ?? [0.08, 1], 0), ratio: range('ratio', o.ratio ?? [3 / 4, 4 / 3], 0),
    flip: o.flip ?? true,
    randAugment: ra === null ? null : randAugmentPolicy(ra, mean, interpolation),
    erasing: erasingSpec(o.erasing),
    cropPct: num('cropPct', o.cropPct ?? 0.875, (v) => v > 0 && v <= 1, 'a number in (0, 1]'),
    cropPadding: num('cropPadding', o.cropPadding ?? 4, (v) => Number.isInteger(v) && v >= 0, 'an integer >= 0'),
    outputSize, maxPixels: o.maxPixels,
  };
}

/** Mirrors an (h, w, c) image left to right. */
export function flipHorizontal(img: Image8): Image8 {
  const { width: W, height: H, channels: c } = img, out = new Uint8Array(img.data.length);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++)
      for (let ch = 0; ch < c; ch++) out[(y * W + x) * c + ch] = img.data[(y * W + W - 1 - x) * c + ch];
  return { ...img, data: out };
}

/** ToTensor + Normalize: (h, w, c) uint8 into out[off ..] as (c, h, w) float32 (v / 255 - mean) / std. */
export function normalizeInto(img: Image8, mean: readonly number[], std: readonly number[], out: Float32Array, off = 0): void {
  const { width: W, height: H, channels: c, data } = img, plane = W * H;
  for (let ch = 0; ch < c; ch++) {
    const scale = 1 / (255 * std[ch]), zero = -mean[ch] / std[ch], o = off + ch * plane;
    for (let i = 0; i < plane; i++) out[o + i] = data[i * c + ch] * scale + zero;
  }
}

/** (h, w, c) interleaved to (c, h, w) planar. */
function planar(img: Image8): Uint8Array {
  const plane = img.width * img.height, c = img.channels, out = new Uint8Array(img.data.length);
  for (let i = 0; i < plane; i++) for (let ch = 0; ch < c; ch++) out[ch * plane + i] = img.data[i * c + ch];
  return out;
}

/** Decodes the whole image, resizes its shorter side to `short` and takes the centre `size` x `size`. */
async function resizedCentre(buf: Buffer, file: string, h: ImageHeader, s: TransformSpec, short: number): Promise<Image8> {
  const [nw, nh] = shorterSideSize(h.width, h.height, short);
  const [top, left] = centerCropOffsets(nw, nh, s.size, s.size);
  const dec = { channels: s.channels, maxPixels: s.maxPixels };
  if (s.resampler === 'libvips') {
    const window = { left, top, width: s.size, height: s.size };
    return decodeBuffer(buf, file, h, { ...dec, resize: { width: nw, height: nh, kernel: KERNEL[s.interpolation], window } });
  }
  return resize(await decodeBuffer(buf, file, h, dec), nw, nh, s.interpolation, undefined, [left, top, s.size, s.size]);
}

const KERNEL = { bilinear: 'linear', bicubic: 'cubic' } as const;

/** RandomResizedCrop + flip: the crop decoded, resized to size x size, mirrored when `flip`. */
async function resizedCrop(buf: Buffer, file: string, h: ImageHeader, s: TransformSpec, crop: Crop, flip: boolean): Promise<Image8> {
  const region = { left: crop.left, top: crop.top, width: crop.width, height: crop.height };
  const dec = { channels: s.channels, maxPixels: s.maxPixels, region };
  if (s.resampler === 'libvips')
    return decodeBuffer(buf, file, h, { ...dec, resize: { width: s.size, height: s.size, kernel: KERNEL[s.interpolation], flip } });
  return resize(await decodeBuffer(buf, file, h, dec), s.size, s.size, s.interpolation, undefined, undefined, flip);
}

/** The small-image recipe: fitted to size x size, then renderSample's pad (to outputSize) / crop / flip / normalise. */
async function smallSample(buf: Buffer, file: string, h: ImageHeader, s: TransformSpec, rng: Rng, out: Float32Array): Promise<void> {
  const img = await resizedCentre(buf, file, h, s, s.size);
  const p = s.train ? s.cropPadding : 0;
  const g = { cropY: p ? rng.int(2 * p + 1) : 0, cropX: p ? rng.int(2 * p + 1) : 0, flip: s.train && s.flip && rng.uniform() < 0.5 };
  const spec = { c: s.channels, h: s.size, w: s.size, outH: s.outputSize, outW: s.outputSize, mean: s.mean, std: s.std, cropPadding: p };
  renderSample(planar(img), 0, spec, g, out, 0);
}

/** Transforms one encoded image (`file` names it in errors) to (channels, outputSize, outputSize) float32. */
export async function transformImage(buf: Buffer, file: string, s: TransformSpec, rng: Rng): Promise<Float32Array> {
  const out = new Float32Array(s.channels * s.outputSize * s.outputSize);
  const header = await readHeader(buf, file, { maxPixels: s.maxPixels });
  if (s.small) await smallSample(buf, file, header, s, rng, out);
  else if (!s.train) normalizeInto(await resizedCentre(buf, file, header, s, Math.trunc(s.size / s.cropPct)), s.mean, s.std, out);
  else {
    const crop = randomResizedCrop(rng, header.width, header.height, s.scale, s.ratio);
    let img = await resizedCrop(buf, file, header, s, crop, s.flip && rng.uniform() < 0.5);
    if (s.randAugment) img = randAugment(img, s.randAugment, rng);
    normalizeInto(img, s.mean, s.std, out);
  }
  if (s.train && s.erasing) randomErase(out, 0, s.channels, s.size, s.size, s.erasing, rng);
  return out;
}
