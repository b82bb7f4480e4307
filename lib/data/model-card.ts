// The model card: what a weights file written by repmlp says about its model beside the
// tensors, so that evaluating or classifying with it needs no --arch and no class list: the
// config and arch, the class names, and how an image becomes the model's input (its size,
// channels, mean / std, crop_pct, interpolation, resampler). It is the one writer and reader
// of these keys of the safetensors `__metadata__` (strings only: numbers and arrays as JSON)
// and of config.json's `modelCard`.
import { RepmlpError } from '../errors';
import { validateConfig } from '../models/config';
import type { RepMLPNetConfig } from '../models/repmlpnet';
import type { ImageTransformOptions } from './images/transform';

export interface ModelCard {
  /** the preset name, or 'custom' for a config of its own */
  arch: string;
  config: RepMLPNetConfig;
  /** classes[i] names logit i */
  classes: string[];
  /** the model's input height and width */
  inputSize: number;
  /**
   * images are fitted to imageSize x imageSize, then zero-padded (centred) to inputSize:
   * imageSize = inputSize for image folders, 28 for Fashion-MNIST in a 32 x 32 model
   */
  imageSize: number;
  /** per channel (config.inChannels of them), in units of pixel / 255 */
  mean: number[];
  std: number[];
  /** evaluation: the shorter side resized to int(imageSize / cropPct), then the centre crop (1: no margin) */
  cropPct: number;
  interpolation: 'bilinear' | 'bicubic';
  resampler: 'pil' | 'libvips';
}

/** The metadata keys, in the order they are written. */
const KEYS = ['arch', 'config', 'classes', 'in_channels', 'input_size', 'image_size', 'mean', 'std', 'crop_pct', 'interpolation', 'resampler'] as const;

/** The card as safetensors metadata. */
export function modelCardMetadata(card: ModelCard): Record<string, string> {
  return {
    arch: card.arch, config: JSON.stringify(card.config), classes: JSON.stringify(card.classes),
    in_channels: String(card.config.inChannels), input_size: String(card.inputSize), image_size: String(card.imageSize),
    mean: JSON.stringify(card.mean), std: JSON.stringify(card.std), crop_pct: String(card.cropPct),
    interpolation: card.interpolation, resampler: card.resampler,
  };
}

/** One metadata value checked: `read` returns the value or undefined when it is not what it should be. */
function field<T>(md: Record<string, string>, file: string, key: (typeof KEYS)[number], expected: string, read: (text: string) => T | undefined): T {
  const text = md[key];
  let v: T | undefined;
  try {
    v = text === undefined ? undefined : read(text);
  } catch {
    v = undefined;
  }
  if (v === undefined)
    throw new RepmlpError(`modelCard: expected ${expected} for metadata '${key}' in ${file} but received ${text === undefined ? 'none' : JSON.stringify(text.slice(0, 60))}`);
  return v;
}

const json = (t: string): unknown => JSON.parse(t);
const posInt = (t: string) => (/^\d+$/.test(t) && Number(t) >= 1 ? Number(t) : undefined);
const numbers = (n: number, positive: boolean) => (t: string) => {
  const v = json(t);
  return Array.isArray(v) && v.length === n && v.every((x) => typeof x === 'number' && Number.isFinite(x) && (!positive || x > 0)) ? (v as number[]) : undefined;
};
const oneOf = <T extends string>(...xs: T[]) => (t: string) => (xs as string[]).includes(t) ? (t as T) : undefined;

/** The config and classes of a card, each checked (the classes one per logit). */
function configAndClasses(md: Record<string, string>, file: string): { config: RepMLPNetConfig; classes: string[] } {
  const config = field(md, file, 'config', 'a RepMLPNet config as JSON', (t) => {
    const c = json(t) as RepMLPNetConfig;
    validateConfig(c, 'config');
    return c;
  });
  const classes = field(md, file, 'classes', `a JSON array of ${config.numClasses} class names (config.numClasses)`, (t) => {
    const v = json(t);
    return Array.isArray(v) && v.length === config.numClasses && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined;
  });
  const c = config.inChannels;
  field(md, file, 'in_channels', `${c} (config.inChannels), 1 or 3`, (t) => (t === String(c) && (c === 1 || c === 3) ? t : undefined));
  return { config, classes };
}

/**
 * The card in a file's safetensors metadata; null when the file has none (no `classes` key:
 * weights written elsewhere, or by repmlp before cards). Errors name the file and the key.
 */
export function readModelCard(md: Record<string, string>, file: string): ModelCard | null {
  if (md.classes === undefined) return null;
  const { config, classes } = configAndClasses(md, file);
  const c = config.inChannels;
  const inputSize = field(md, file, 'input_size', 'a positive integer', posInt);
  return {
    arch: field(md, file, 'arch', 'the arch name', (t) => (t === '' ? undefined : t)),
    config, classes, inputSize,
    imageSize: field(md, file, 'image_size', `a positive integer <= input_size (${inputSize})`, (t) => (posInt(t) ?? Infinity) <= inputSize ? Number(t) : undefined),
    mean: field(md, file, 'mean', `a JSON array of ${c} numbers`, numbers(c, false)),
    std: field(md, file, 'std', `a JSON array of ${c} positive numbers`, numbers(c, true)),
    cropPct: field(md, file, 'crop_pct', 'a number in (0, 1]', (t) => (Number(t) > 0 && Number(t) <= 1 ? Number(t) : undefined)),
    interpolation: field(md, file, 'interpolation', "'bilinear' or 'bicubic'", oneOf('bilinear', 'bicubic')),
    resampler: field(md, file, 'resampler', "'pil' or 'libvips'", oneOf('pil', 'libvips')),
  };
}

/**
 * The evaluation transform a card describes, as the options of transformSpec / FolderLoader:
 * the trainer's test loader, `repmlp eval --data DIR` and predict all render with these, so
 * that they give the model the same pixels.
 */
export function cardTransform(card: ModelCard): ImageTransformOptions {
  return {
    size: card.imageSize, padTo: card.inputSize, channels: card.config.inChannels as 1 | 3, train: false,
    mean: card.mean, std: card.std, cropPct: card.cropPct, interpolation: card.interpolation, resampler: card.resampler,
  };
}
