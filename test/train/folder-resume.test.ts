// train() on image files: a run at 96 x 96 (RandomResizedCrop, RandAugment, random erasing,
// mixup, the data set's own mean and std) killed mid-epoch and resumed ends with the same
// weights and metrics as an uninterrupted run, and keeps the mean and std it computed; file
// lists of the same images give the same batches as the folder; bad images stop the run
// naming the file, or are skipped and counted; the option checks come before anything is
// written.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { findSplits } from '../../lib/data/images/folder';
import { datasetMeanStd } from '../../lib/data/images/stats';
import { readModelCard } from '../../lib/data/model-card';
import { parseSafetensorsMetadata, readSafetensors } from '../../lib/io/safetensors';
import type { RepMLPNetConfig } from '../../lib/models/repmlpnet';
import { train, type TrainOptions } from '../../lib/train/trainer';
import { assertRejects } from '../helpers';
import { buildImageFolder, writeBadImages } from '../data/images/folder-fixture';
import { scratchDir } from '../cli/run-cli';

// One unit per stage, narrow: the `small` layout at a fraction of its cost.
const TINY: RepMLPNetConfig = {
  inChannels: 3, numClasses: 4, patchSize: 2, numBlocks: [1, 1, 1], channels: [8, 16, 32], hs: [16, 8, 4], ws: [16, 8, 4],
  sharesetsNums: [2, 4, 8], reparamConvK: [1, 3], globalPerceptronReduce: 4,
};
const tmp = scratchDir('folder-resume');
const images = path.join(tmp, 'images');
const SIZES: [number, number][] = [[120, 100], [96, 130], [110, 110], [150, 98]];

test.before(async () => {
  await buildImageFolder({ perClass: 12, classes: 4, layout: 'imagenet', kinds: ['png', 'jpeg', 'webp', 'grey'], sizes: SIZES, dir: images });
});
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

type Rec = Record<string, unknown>;
const metrics = (out: string) => fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Rec);
const quiet = { write: () => {}, warn: () => {}, tty: false };

const RECIPE: TrainOptions = {
  arch: TINY, inputSize: 96, epochs: 2, batchSize: 8, saveEvery: 2, logEvery: 1, lr: 3e-3, warmupEpochs: 0.5, mixup: 0.2, ...quiet,
  data: { folder: images, workers: 1, randAugment: 'rand-m9-mstd0.5-inc1', erasing: 0.25, norm: 'dataset' },
};

test('a folder run killed mid-epoch and resumed ends with the weights of an uninterrupted run', async () => {
  const full = path.join(tmp, 'full'), part = path.join(tmp, 'part');
  const a = await train({ ...RECIPE, out: full });
  assert.equal([a.steps, a.epochs, a.dataSource], [10, 2, 'folder']);
  // killed during step 7: the last save was after step 6 (of epoch 2), steps 7.. run again
  const kill = (s: number) => { if (s === 7) throw new Error('killed'); return false; };
  await assertRejects(train({ ...RECIPE, out: part, shouldStop: kill }), /^killed$/);
  let lines = '';
  const b = await train({ ...RECIPE, out: part, resume: true, write: (t) => void (lines += t) });
  assert.match(lines, /resuming from .*last\.safetensors: epoch 2, batch 1\/5, step 6/);
  assert.not.match(lines, /normalisation: the training images' own mean/, 'the mean and std come from the checkpoint');
  const key = (r: Rec) => [r.type, r.step, r.loss ?? r.trainLoss, r.testAccuracy ?? null];
  assert.equal(metrics(part).map(key), metrics(full).map(key));
  assert.equal(b.testAccuracy, a.testAccuracy);
  const da = readSafetensors(path.join(full, 'deploy.safetensors')), db = readSafetensors(path.join(part, 'deploy.safetensors'));
  for (const [k, v] of da) assert.equal(Array.from(db.get(k)!.data as ArrayLike<unknown>), Array.from(v.data as ArrayLike<unknown>), k);
  // the card keeps the training images' own mean and std, computed at the run's evaluation transform
  const file = path.join(part, 'deploy.safetensors');
  const card = readModelCard(parseSafetensorsMetadata(fs.readFileSync(file)), file)!;
  const want = await datasetMeanStd(findSplits(images).train, { size: 96, cropPct: 0.875, workers: 0 });
  assert.equal([card.mean, card.std, card.inputSize, card.cropPct], [want.mean, want.std, 96, 0.875]);
});

test('file lists of the same images give the folder\'s batches; their classes are the labels\' numbers', async () => {
  const { train: t, val: v } = findSplits(images);
  const list = (name: string, ds: typeof t) => {
    const f = path.join(tmp, name);
    fs.writeFileSync(f, ds.files.map((x, i) => `${path.relative(tmp, x)} ${ds.labels[i]}`).join('\n') + '\n');
    return f;
  };
  const base: TrainOptions = { arch: { ...TINY }, epochs: 1, batchSize: 12, maxSteps: 2, logEvery: 1, ...quiet };
  const fromFolder = path.join(tmp, 'by-folder'), fromLists = path.join(tmp, 'by-list');
  await train({ ...base, data: { folder: images, workers: 0 }, out: fromFolder });
  await train({ ...base, data: { trainList: list('train.txt', t), valList: list('val.txt', v), workers: 0 }, out: fromLists });
  const losses = (out: string) => metrics(out).map((r) => r.loss);
  assert.equal(losses(fromLists), losses(fromFolder));
  const config = JSON.parse(fs.readFileSync(path.join(fromLists, 'config.json'), 'utf8')) as { modelCard: { classes: string[] } };
  assert.equal(config.modelCard.classes, ['0', '1', '2', '3']);
});

test('the recipe options work on image files; best-ema.safetensors carries the model card too', async () => {
  const out = path.join(tmp, 'recipe');
  const s = await train({
    arch: { ...TINY }, epochs: 1, batchSize: 8, data: { folder: images, workers: 0, interpolation: 'bicubic' }, out, ...quiet,
    optimizer: 'sgd', lr: 0.05, accumSteps: 2, lrScaleBatch: 16, ema: true, emaEvery: 1, clipGrad: 1, labelSmoothing: 0.2, cutmix: 1,
  });
  assert.equal([s.steps, s.stopped], [3, false]);
  assert.ok(s.emaTestAccuracy !== null);
  const file = path.join(out, 'best-ema.safetensors');
  const card = readModelCard(parseSafetensorsMetadata(fs.readFileSync(file)), file)!;
  assert.equal([card.classes.length, card.interpolation, card.mean], [4, 'bicubic', [0.485, 0.456, 0.406]]);
});

test('a bad image stops the run naming it; skipBadImages leaves it out and counts it', async () => {
  const dir = path.join(tmp, 'with-bad');
  fs.cpSync(images, dir, { recursive: true });
  const cls = fs.readdirSync(path.join(dir, 'train')).sort()[0];
  const bad = await writeBadImages(path.join(dir, 'train', cls));
  fs.rmSync(bad.huge);
  const base: TrainOptions = { arch: { ...TINY }, epochs: 1, batchSize: 16, ...quiet };
  await assertRejects(train({ ...base, data: { folder: dir, workers: 0, channels: 3 }, out: path.join(tmp, 'bad-stop') }),
    /^decodeImage: expected an image \(JPEG, PNG, WebP, GIF, AVIF or TIFF\) for .*with-bad\/train\/.*\.(png|jpg) but received/);
  let text = '';
  const s = await train({ ...base, data: { folder: dir, workers: 1, skipBadImages: true }, out: path.join(tmp, 'bad-skip'), write: (t) => void (text += t) });
  assert.is(s.skippedImages, 4);
  assert.match(text, /^skipped 4 images that could not be decoded \(4 files: .*with-bad\/train\/.*, and 1 more\)$/m);
});

test('option checks come before anything is written', async () => {
  const out = path.join(tmp, 'never');
  const cases: [TrainOptions['data'], Partial<TrainOptions>, RegExp][] = [
    [{}, {}, /^train: expected an image folder \(data\.folder\) or file lists \(data\.trainList and data\.valList\) for data but received neither$/],
    [{ folder: images, trainList: 'a' }, {}, /^train: expected an image folder or file lists, not both for data/],
    [{ trainList: 'a' }, {}, /^train: expected both data\.trainList and data\.valList for data but received only trainList$/],
    [{ folder: images, channels: 2 as never }, {}, /^train: expected 1, 3 or 'auto' for data\.channels but received 2$/],
    [{ folder: images, norm: { mean: [0.5], std: [0] } }, {}, /^train: expected 'imagenet', 'dataset' or \{ mean, std \} of 1 or 3 numbers each \(std > 0\) for data\.norm/],
    [{ folder: images, cropPct: 0.9 }, {}, /^train: expected none \(or 1\) for inputs of 64 px or less, which are fitted whole for data\.cropPct but received 0\.9 with input 32$/],
    [{ folder: images, randAugment: 'raug15' }, {}, /^imageTransform: expected null for images of 32 px \(the small-image recipe is pad, crop and flip\) for randAugment/],
    [{ folder: images, erasing: 0.2 }, { augment: false }, /^train: expected true with data\.randAugment or data\.erasing \(they are training augmentations\) for augment but received false$/],
    [{ folder: images }, { inputSize: 40 }, /^train: expected a height and width whose stage-1 map \(input \/ 2\) is a multiple of its partition 16 x 16 for inputSize but received 40 x 40/],
    [{ folder: path.join(images, 'train') }, {}, /^findSplits: expected a folder with train\/ and val\/ \(ImageNet layout\), or a validation folder/],
    [{ folder: images }, { arch: { ...TINY, numClasses: 10 } }, /^train: expected 4 \(the data set's classes\) for arch\.numClasses but received 10$/],
  ];
  for (const [data, more, re] of cases) await assertRejects(train({ arch: TINY, data, out, ...quiet, ...more }), re);
  assert.not.ok(fs.existsSync(out), 'no run directory');
});

test.run();
