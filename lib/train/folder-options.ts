// The trainer's options for an image data set of files (TrainOptions.data as an object): an
// image folder in the ImageNet layout or with a separate validation folder, or two file
// lists; the decoding (channels, workers, bad images) and the image recipe (RandAugment,
// random erasing, the evaluation crop, interpolation, resampler, normalisation), checked and
// with their defaults. Paths are made absolute, so that a resumed run compares them as such.
import * as path from 'node:path';
import type { MeanStd } from '../data/images/stats';
import type { Interpolation } from '../data/images/resample';
import { describe, fail } from '../errors';
import { bool, nonNeg, OP, posInt } from './option-checks';

export interface ImageFolderOptions {
  /** DIR/train/<class> and DIR/val/<class> (the ImageNet layout), or DIR/<class> with valDir */
  folder?: string;
  /** the validation folder (<class>/<image>) when `folder` holds the training classes only */
  valDir?: string;
  /** file lists of `path label` lines instead of folders (both, without `folder`) */
  trainList?: string;
  valList?: string;
  /** input channels: 1 (grey), 3 (RGB) or 'auto' (default: 1 when the sampled training images are all grey) */
  channels?: 1 | 3 | 'auto';
  /** decoding threads per loader (default: the CPU cores; 0 = on the main thread) */
  workers?: number;
  /** leave out images that cannot be decoded and count them (default false: the run stops, naming the file) */
  skipBadImages?: boolean;
  /** 'raug15', a timm policy such as 'rand-m9-mstd0.5-inc1', or null (default: none) */
  randAugment?: string | null;
  /** random erasing probability (default 0: off) */
  erasing?: number;
  /** evaluation centre-crop fraction (default 0.875); inputs of 64 px or less are fitted whole */
  cropPct?: number;
  /** 'bilinear' (default) or 'bicubic' */
  interpolation?: Interpolation;
  /** 'pil' (default: PIL's resize, torchvision's bytes) or 'libvips' (faster, within a few levels) */
  resampler?: 'pil' | 'libvips';
  /** 'imagenet' (default), 'dataset' (the training images' own, computed once and stored with the model) or the values */
  norm?: 'imagenet' | 'dataset' | MeanStd;
}

/** ImageFolderOptions checked, with the defaults filled in (workers: undefined = the loader's default). */
export interface FolderSettings {
  folder: string | null;
  valDir: string | null;
  trainList: string | null;
  valList: string | null;
  channels: 1 | 3 | 'auto';
  workers: number | undefined;
  skipBadImages: boolean;
  randAugment: string | null;
  erasing: number;
  /** null: the default, 0.875 (1 for inputs of 64 px or less) */
  cropPct: number | null;
  interpolation: Interpolation;
  resampler: 'pil' | 'libvips';
  norm: 'imagenet' | 'dataset' | MeanStd;
}

const where = (name: string) => `data.${name}`;

function optionalPath(name: string, v: unknown): string | null {
  if (v === undefined) return null;
  if (typeof v !== 'string' || v === '') fail(OP, where(name), 'a path', describe(v));
  return path.resolve(v as string);
}

function oneOf<T extends string>(name: string, v: unknown, choices: readonly T[], dflt: T): T {
  if (v === undefined) return dflt;
  if (!(choices as readonly unknown[]).includes(v)) fail(OP, where(name), choices.map((c) => `'${c}'`).join(' or '), describe(v));
  return v as T;
}

function normOf(v: unknown): FolderSettings['norm'] {
  if (v === undefined || v === 'imagenet' || v === 'dataset') return v ?? 'imagenet';
  const m = v as MeanStd;
  const ok = (xs: unknown, positive: boolean) => Array.isArray(xs) && (xs.length === 1 || xs.length === 3) && xs.every((x) => Number.isFinite(x) && (!positive || x > 0));
  if (typeof v !== 'object' || v === null || !ok(m.mean, false) || !ok(m.std, true) || m.mean.length !== m.std.length)
    fail(OP, where('norm'), "'imagenet', 'dataset' or { mean, std } of 1 or 3 numbers each (std > 0)", describe(v));
  return { mean: [...m.mean], std: [...m.std] };
}

/** Where the images are: a folder (with an optional validation folder), or two lists. */
function sources(o: ImageFolderOptions): Pick<FolderSettings, 'folder' | 'valDir' | 'trainList' | 'valList'> {
  const s = { folder: optionalPath('folder', o.folder), valDir: optionalPath('valDir', o.valDir), trainList: optionalPath('trainList', o.trainList), valList: optionalPath('valList', o.valList) };
  const lists = s.trainList !== null || s.valList !== null;
  if (s.folder === null && !lists) fail(OP, 'data', 'an image folder (data.folder) or file lists (data.trainList and data.valList)', 'neither');
  if (s.folder !== null && lists) fail(OP, 'data', 'an image folder or file lists, not both', `folder ${s.folder} and a list`);
  if (lists && (s.trainList === null || s.valList === null)) fail(OP, 'data', 'both data.trainList and data.valList', `only ${s.trainList === null ? 'valList' : 'trainList'}`);
  if (s.valDir !== null && s.folder === null) fail(OP, where('valDir'), 'a validation folder beside data.folder', 'one without data.folder');
  return s;
}

/** Checks the options of an image data set and fills in the defaults. */
export function resolveFolderOptions(o: ImageFolderOptions): FolderSettings {
  if (typeof o !== 'object' || o === null) fail(OP, 'data', "'fashion-mnist', 'cifar10', 'cifar100' or an image folder's options", describe(o));
  const channels = o.channels ?? 'auto';
  if (channels !== 1 && channels !== 3 && channels !== 'auto') fail(OP, where('channels'), "1, 3 or 'auto'", describe(channels));
  const randAugment = o.randAugment ?? null;
  if (randAugment !== null && typeof randAugment !== 'string') fail(OP, where('randAugment'), 'a policy name or null', describe(randAugment));
  const cropPct = o.cropPct === undefined ? null : nonNeg('data.cropPct', o.cropPct, 1, 1);
  if (cropPct === 0) fail(OP, where('cropPct'), 'a number in (0, 1]', '0');
  return {
    ...sources(o), channels, randAugment, cropPct,
    workers: o.workers === undefined ? undefined : posInt('data.workers', o.workers, 0, 0),
    skipBadImages: bool('data.skipBadImages', o.skipBadImages, false),
    erasing: nonNeg('data.erasing', o.erasing, 0, 1),
    interpolation: oneOf('interpolation', o.interpolation, ['bilinear', 'bicubic'] as const, 'bilinear'),
    resampler: oneOf('resampler', o.resampler, ['pil', 'libvips'] as const, 'pil'),
    norm: normOf(o.norm),
  };
}

/** What a resumed run must agree on: everything but the worker count. */
export function recordedFolder(f: FolderSettings, channels: number): Record<string, unknown> {
  const { workers: _workers, ...rest } = f;
  return { ...rest, channels };
}
