// The data a training run works from: a data set known by name (held in memory, batched by
// the DataLoader, here) or image files (a folder or two lists, decoded on worker threads by the
// FolderLoader, lib/train/folder-data.ts). Either gives the run its classes and channels, its
// normalisation, the evaluation preprocessing its model card records, and its two loaders,
// typed as BatchSource, each yielding this rank's shares of the global batches in a
// distributed run.
import type { BatchSource } from '../data/batch-source';
import { limitDataset, loadData, type DataName, type LoadedData } from '../data/datasets';
import type { MeanStd } from '../data/images/stats';
import { DataLoader, type ImageDataset } from '../data/loader';
import type { ModelCard } from '../data/model-card';
import type { ShardOptions } from '../data/sampler';
import { OP, type Settings } from './options';

/** The evaluation preprocessing a model card records besides the sizes and the normalisation. */
export type Preprocessing = Pick<ModelCard, 'cropPct' | 'interpolation' | 'resampler'>;

/** Each loader's share of a distributed world (DistributedSampler's; undefined in a world of one), and the ranks sharing this machine. */
export interface LoaderShards {
  train: ShardOptions | undefined;
  test: ShardOptions | undefined;
  /** ranks on this machine, whose loaders share its cores (1 in a world of one) */
  localRanks: number;
}

export interface RunData {
  /** the line the trainer prints first */
  description: string;
  /** where the images came from: loadData's source, or 'folder' / 'list' */
  source: string;
  /** classes[label] names a label */
  classes: string[];
  channels: number;
  /** a named data set's own image size (padded to the model's input); null: images are rendered at the input size */
  imageSize: number | null;
  trainImages: number;
  testImages: number;
  /** what a resumed run must agree on about the data (options.data of the checkpoint) */
  recorded: unknown;
  /**
   * Checks the transforms at the model's input size (before anything is written) and
   * returns the evaluation preprocessing the model card records.
   */
  prepare(inputSize: number): Preprocessing;
  /**
   * The per-channel mean and std to normalise with; `resumeFrom` is the checkpoint a resumed
   * run continues, whose model card keeps values that were computed when the run started.
   */
  normalisation(inputSize: number, resumeFrom: string | null, log: (line: string) => void): Promise<MeanStd>;
  /** The training loader (shuffled, augmented) and the test loader, for the model the card describes, of this rank's shares. */
  loaders(card: ModelCard, shards: LoaderShards): { train: BatchSource; test: BatchSource };
  /** Images left out so far because they could not be decoded, and their files. */
  skipped(): { images: number; files: string[] };
}

/** The DataLoaders of a named data set: padded to the model's input, normalised with the card's mean and std. */
function namedLoaders(s: Settings, sets: { train: ImageDataset; test: ImageDataset }, card: ModelCard, shards: LoaderShards): { train: DataLoader; test: DataLoader } {
  const cropPadding = s.augment ? (sets.train.h <= 28 ? 2 : 4) : 0;
  const numClasses = card.classes.length;
  const common = { mean: card.mean, std: card.std, padTo: card.inputSize, numClasses, prefetch: s.prefetch, batchSize: s.batchSize };
  return {
    train: new DataLoader(sets.train, {
      ...common, shuffle: true, seed: s.seed, cropPadding, flip: s.augment, mixupAlpha: s.mixup, cutmixAlpha: s.cutmix, shard: shards.train,
    }),
    test: new DataLoader(sets.test, { ...common, shuffle: false, shard: shards.test }),
  };
}

/** A named data set's RunData (loaded in memory; nothing awaited, so the trainer takes its lock at once). */
export function openNamedData(s: Settings, name: DataName): RunData {
  const loaded: LoadedData = loadData(name, s.dataDir, OP);
  const sets = { train: limitDataset(loaded.train, s.limitTrain), test: limitDataset(loaded.test, s.limitTest) };
  return {
    description: loaded.description, source: loaded.source, classes: loaded.classes, channels: loaded.train.c ?? 1,
    imageSize: loaded.train.h, trainImages: sets.train.n, testImages: sets.test.n, recorded: name,
    prepare: () => ({ cropPct: 1, interpolation: 'bilinear', resampler: 'pil' }),
    normalisation: async () => ({ mean: loaded.mean, std: loaded.std }),
    loaders: (card, shards) => namedLoaders(s, sets, card, shards),
    skipped: () => ({ images: 0, files: [] }),
  };
}
