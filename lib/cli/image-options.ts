// The command-line options of image files, shared by train, eval and predict: --data as a data
// set's name or an image folder, file lists, the decoding options (--in-channels, --workers,
// --skip-bad-images) and the image recipe (--randaugment, --erasing, --crop-pct,
// --interpolation, --resampler, --norm), checked as usage errors and turned into the
// trainer's ImageFolderOptions.
import * as fs from 'node:fs';
import { DATA_NAMES, type DataName } from '../data/datasets';
import { randAugmentPolicy } from '../data/images/randaugment';
import type { ImageFolderOptions } from '../train/folder-options';
import { flags, valued, type OptionSpecs, type Values } from './args';
import { UsageError } from './command';
import { alternatives, choiceOption, intOption, numberOption, pathOption, stringOption } from './options';

/** The options that only mean something for image files (beside --data DIR). */
const FOLDER_ONLY = ['val-dir', 'train-list', 'val-list', 'in-channels', 'workers', 'skip-bad-images', 'randaugment', 'erasing', 'crop-pct', 'interpolation', 'resampler', 'norm'];

/** train's image options (eval and predict take some of them). */
export const IMAGE_OPTIONS: OptionSpecs = { ...valued(...FOLDER_ONLY.filter((n) => n !== 'skip-bad-images'), 'input-size'), ...flags('skip-bad-images') };

/** `--data`: a data set's name, or an existing folder of images; undefined when not given. */
export function dataOption(command: string, v: Values): DataName | { folder: string } | undefined {
  const value = stringOption(v, 'data');
  if (value === undefined) return undefined;
  if ((DATA_NAMES as readonly string[]).includes(value)) return value as DataName;
  if (fs.statSync(value, { throwIfNoEntry: false })?.isDirectory()) return { folder: value };
  throw new UsageError(`${command}: expected ${alternatives([...DATA_NAMES, 'an image folder'])} for --data but received '${value}' (no such folder)`);
}

/** Refuses the image-file options for a named data set (`--workers needs image files: --data DIR ...`). */
export function refuseFolderOptions(command: string, v: Values, names: readonly string[] = FOLDER_ONLY, needs = '--data DIR (an image folder) or --train-list and --val-list'): void {
  const given = names.find((n) => v[n] !== undefined);
  if (given) throw new UsageError(`${command}: --${given} needs image files: ${needs}`);
}

/** `--randaugment`: 'none', 'raug15' or a timm policy string, checked here so that a bad one is a usage error. */
function randAugmentOption(command: string, v: Values): string | null | undefined {
  const value = stringOption(v, 'randaugment');
  if (value === undefined || value === 'none') return value === 'none' ? null : undefined;
  try {
    randAugmentPolicy(value, [0.5, 0.5, 0.5], 'bilinear');
  } catch {
    throw new UsageError(`${command}: expected raug15, a timm policy such as rand-m9-mstd0.5-inc1, or none for --randaugment but received '${value}'`);
  }
  return value;
}

/** `--crop-pct`: a number in (0, 1]. */
export function cropPctOption(command: string, v: Values): number | undefined {
  const p = numberOption(command, v, 'crop-pct', { max: 1 });
  if (p === 0) throw new UsageError(`${command}: expected a number in (0, 1] for --crop-pct but received '${v['crop-pct']}'`);
  return p;
}

/** `--workers N` (0: decode on the main thread). */
export const workersOption = (command: string, v: Values): number | undefined => intOption(command, v, 'workers');

/** Where the images are: `--data DIR` (with `--val-dir`), or `--train-list` and `--val-list`. */
function imageSources(command: string, v: Values, folder: string | undefined): Pick<ImageFolderOptions, 'folder' | 'valDir' | 'trainList' | 'valList'> {
  const [trainList, valList] = [pathOption(command, v, 'train-list'), pathOption(command, v, 'val-list')];
  if (folder !== undefined && (trainList || valList)) throw new UsageError(`${command}: --data DIR and --train-list / --val-list are two ways to give the images: use one`);
  if ((trainList === undefined) !== (valList === undefined)) throw new UsageError(`${command}: --${trainList ? 'train-list' : 'val-list'} needs --${trainList ? 'val-list' : 'train-list'}`);
  if (folder === undefined && v['val-dir'] !== undefined) throw new UsageError(`${command}: --val-dir needs --data DIR (the training folder)`);
  return { folder, valDir: pathOption(command, v, 'val-dir'), trainList, valList };
}

/** The trainer's ImageFolderOptions from the command line: image folder `folder`, or the lists. */
export function imageFolderOptions(command: string, v: Values, folder: string | undefined): ImageFolderOptions {
  const channels = choiceOption(command, v, 'in-channels', ['1', '3', 'auto'] as const);
  return {
    ...imageSources(command, v, folder),
    channels: channels === undefined || channels === 'auto' ? 'auto' : (Number(channels) as 1 | 3),
    workers: workersOption(command, v),
    skipBadImages: v['skip-bad-images'] === true,
    randAugment: randAugmentOption(command, v),
    erasing: numberOption(command, v, 'erasing', { max: 1 }),
    cropPct: cropPctOption(command, v),
    interpolation: choiceOption(command, v, 'interpolation', ['bilinear', 'bicubic'] as const),
    resampler: choiceOption(command, v, 'resampler', ['pil', 'libvips'] as const),
    norm: choiceOption(command, v, 'norm', ['imagenet', 'dataset'] as const),
  };
}

/** True when the command line names image files (a folder for --data, or the lists). */
export function namesImageFiles(v: Values, data: ReturnType<typeof dataOption>): boolean {
  return typeof data === 'object' || v['train-list'] !== undefined || v['val-list'] !== undefined;
}
