// A training run's data from image files: the training and validation sets of an image
// folder (the ImageNet layout DIR/train + DIR/val, or DIR with a separate validation folder)
// or of two file lists; the input channels (given, or 1 when a sample of the training images
// is all grey); the normalisation (ImageNet's, given values, or the training images' own,
// computed once and then kept by the run's model card); and the two FolderLoaders.
import * as fs from 'node:fs';
import { readHeader, readImageFile } from '../data/images/decode';
import { findSplits, readFileList, type FolderDataset } from '../data/images/folder';
import { defaultWorkers, FolderLoader, type FolderLoaderOptions } from '../data/images/folder-loader';
import { datasetMeanStd, type MeanStd } from '../data/images/stats';
import { SMALL_IMAGE, transformSpec } from '../data/images/transform';
import { cardTransform, readModelCard, type ModelCard } from '../data/model-card';
import { fail } from '../errors';
import { readFileBounded } from '../io/read';
import { parseSafetensorsMetadata } from '../io/safetensors';
import type { LoaderShards, Preprocessing, RunData } from './data';
import { recordedFolder, type FolderSettings } from './folder-options';
import { OP, type Settings } from './options';

/** Images whose headers decide 'auto' channels. */
const CHANNEL_SAMPLE = 32;

/** The first n images (all when n is undefined). */
function limitFolder(d: FolderDataset, n: number | undefined): FolderDataset {
  return n === undefined || n >= d.files.length ? d : { ...d, files: d.files.slice(0, n), labels: d.labels.slice(0, n) };
}

function readSets(f: FolderSettings): { train: FolderDataset; val: FolderDataset; layout: string } {
  if (f.folder !== null) {
    const { train, val } = findSplits(f.folder, f.valDir ?? undefined);
    return { train, val, layout: f.valDir === null ? `${f.folder} (train/ and val/)` : `${f.folder} with the validation folder ${f.valDir}` };
  }
  const train = readFileList(f.trainList!);
  return { train, val: readFileList(f.valList!, train.classes), layout: `the lists ${f.trainList} and ${f.valList}` };
}

/** 1 when every sampled training image (evenly spaced) is grey, else 3; a bad one fails unless skipped. */
async function sampledChannels(d: FolderDataset, skipBad: boolean): Promise<1 | 3> {
  const n = Math.min(CHANNEL_SAMPLE, d.files.length);
  const files = Array.from({ length: n }, (_, i) => d.files[Math.floor((i * d.files.length) / n)]);
  const grey = await Promise.all(files.map(async (file) => {
    try {
      return (await readHeader(readImageFile(file), file)).grey;
    } catch (e) {
      if (skipBad) return true;
      throw e;
    }
  }));
  return grey.every(Boolean) ? 1 : 3;
}

/** The checks of the image options at the model's input size, and the card's preprocessing. */
function prepare(s: Settings, f: FolderSettings, inputSize: number): Preprocessing {
  const small = inputSize <= SMALL_IMAGE;
  if (small && f.cropPct !== null && f.cropPct !== 1)
    fail(OP, 'data.cropPct', `none (or 1) for inputs of ${SMALL_IMAGE} px or less, which are fitted whole`, `${f.cropPct} with input ${inputSize}`);
  if (!s.augment && (f.randAugment !== null || f.erasing > 0))
    fail(OP, 'augment', 'true with data.randAugment or data.erasing (they are training augmentations)', 'false');
  // the training transform's own checks (a RandAugment policy, none for small images)
  transformSpec({ size: inputSize, train: true, randAugment: f.randAugment, erasing: f.erasing || null, interpolation: f.interpolation });
  return { cropPct: small ? 1 : f.cropPct ?? 0.875, interpolation: f.interpolation, resampler: f.resampler };
}

/** The mean and std a resumed run's checkpoint recorded in its model card, or null. */
function recordedNorm(file: string | null): MeanStd | null {
  if (file === null || !fs.existsSync(file)) return null;
  const card = readModelCard(parseSafetensorsMetadata(readFileBounded(file, { op: 'checkpoint' }), file), file);
  return card && { mean: card.mean, std: card.std };
}

const numbers = (xs: number[]) => xs.map((x) => x.toFixed(4)).join(', ');

async function normalisation(f: FolderSettings, train: FolderDataset, channels: 1 | 3, p: Preprocessing & { inputSize: number }, resumeFrom: string | null, log: (line: string) => void): Promise<MeanStd> {
  if (f.norm === 'imagenet') {
    const { mean, std } = transformSpec({ channels, size: 1 });
    return { mean, std };
  }
  if (f.norm !== 'dataset') {
    if (f.norm.mean.length !== channels) fail(OP, 'data.norm', `a mean and std of ${channels} numbers (the input channels)`, `${f.norm.mean.length}`);
    return f.norm;
  }
  const kept = recordedNorm(resumeFrom);
  if (kept) return kept;
  const t0 = Date.now();
  const ms = await datasetMeanStd(train, { size: p.inputSize, channels, workers: f.workers, skipBadImages: f.skipBadImages, ...p });
  log(`normalisation: the training images' own mean (${numbers(ms.mean)}) and std (${numbers(ms.std)}), over ${train.files.length} images in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return ms;
}

/** The training loader (the card's transform made random: crop, flip, RandAugment, erasing, mixup) and the test loader (the card's). */
function folderLoaders(s: Settings, f: FolderSettings, sets: { train: FolderDataset; test: FolderDataset }, card: ModelCard, shards: LoaderShards) {
  const common: FolderLoaderOptions = {
    ...cardTransform(card), batchSize: s.batchSize, numClasses: card.classes.length,
    workers: f.workers ?? Math.max(1, Math.floor(defaultWorkers() / shards.localRanks)),
    skipBadImages: f.skipBadImages, prefetch: s.prefetch ? 2 : 1,
  };
  return {
    train: new FolderLoader(sets.train, {
      ...common, train: s.augment, flip: s.augment, randAugment: f.randAugment, erasing: f.erasing || null,
      shuffle: true, seed: s.seed, mixupAlpha: s.mixup, cutmixAlpha: s.cutmix, shard: shards.train,
    }),
    test: new FolderLoader(sets.test, { ...common, shuffle: false, shard: shards.test }),
  };
}

export async function openFolderData(s: Settings, f: FolderSettings): Promise<RunData> {
  const { train, val, layout } = readSets(f);
  const sets = { train: limitFolder(train, s.limitTrain), test: limitFolder(val, s.limitTest) };
  const channels = f.channels === 'auto' ? await sampledChannels(sets.train, f.skipBadImages) : f.channels;
  const how = f.channels === 'auto' ? (channels === 1 ? ': the sampled images are grey' : ': the sampled images are not all grey') : '';
  let made: { train: FolderLoader; test: FolderLoader } | null = null;
  return {
    description: `data: images from ${layout}, ${sets.train.files.length} train / ${sets.test.files.length} val images of ${train.classes.length} classes, ` +
      `${channels} channel${channels === 1 ? '' : 's'}${how}`,
    source: f.folder !== null ? 'folder' : 'list', classes: train.classes, channels, imageSize: null,
    trainImages: sets.train.files.length, testImages: sets.test.files.length, recorded: recordedFolder(f, channels),
    prepare: (inputSize) => prepare(s, f, inputSize),
    normalisation: (inputSize, resumeFrom, log) => normalisation(f, sets.train, channels, { ...prepare(s, f, inputSize), inputSize }, resumeFrom, log),
    loaders: (card, shards) => (made = folderLoaders(s, f, sets, card, shards)),
    skipped: () => {
      const loaders = made ? [made.train, made.test] : [];
      return { images: loaders.reduce((n, l) => n + l.skippedImages, 0), files: [...new Set(loaders.flatMap((l) => [...l.badFiles]))] };
    },
  };
}
