// Real images in, predictions out, through the command line: an image folder built from the
// shipped Fashion-MNIST sample (ImageNet layout, 600 / 200 images of 10 classes in several
// formats and sizes) trains `small` for one epoch with `repmlp train --data DIR` and learns;
// the class names and the preprocessing reach config.json and every safetensors file, so
// `repmlp eval --data DIR` and `repmlp predict` need no --arch; predict's top-1 is the model's
// argmax for every file, with softmax probabilities of its logits; bad files stop predict with
// exit code 1 naming them, or are skipped and counted; Ctrl-C stops a run at a step, saved.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { main } from '../../lib/cli';
import { scanImageFolder } from '../../lib/data/images/folder';
import { FolderLoader } from '../../lib/data/images/folder-loader';
import { cardTransform, readModelCard, type ModelCard } from '../../lib/data/model-card';
import { parseSafetensorsMetadata } from '../../lib/io/safetensors';
import { noGrad, tensor, type TrainSummary } from '../../lib/index';
import { deployModel } from '../../lib/predict/load';
import { softmax } from '../../lib/predict/predict';
import { readModelWeights } from '../../lib/train/checkpoint';
import { assertRejects } from '../helpers';
import { buildImageFolder, writeBadImages } from '../data/images/folder-fixture';
import { interruptCli, runCli, runCliProcess, scratchDir } from './run-cli';

const tmp = scratchDir('folder-train');
const images = path.join(tmp, 'images'), out = path.join(tmp, 'run');
const KINDS = ['png', 'jpeg', 'webp', 'grey', 'rgba', 'exif', 'png16', 'cmyk'] as const;
let classes: string[] = [];
let summary: TrainSummary;

test.before(async () => {
  await buildImageFolder({ perClass: 80, classes: 10, layout: 'imagenet', kinds: KINDS, dir: images });
  classes = scanImageFolder(path.join(images, 'train')).classes;
});
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const lastJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>;

test('repmlp train --data DIR: one epoch of small on 600 images learns', async () => {
  const t0 = Date.now();
  const r = await runCli(['train', '--data', images, '--arch', 'small', '--epochs', '1', '--batch-size', '16', '--lr', '5e-3', '--warmup', '0.2',
    '--workers', '2', '--out', out, '--json']);
  assert.is(r.code, 0, r.stderr);
  summary = lastJson(r.stdout) as unknown as TrainSummary;
  console.log(`  small, 1 epoch on 600 images: test accuracy ${(100 * summary.testAccuracy).toFixed(1)}% (chance 10%), ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  assert.match(r.stdout, /^data: images from .*images \(train\/ and val\/\), 600 train \/ 200 val images of 10 classes, 3 channels: the sampled images are not all grey$/m);
  assert.match(r.stdout, /model: RepMLPNet small, \d+ parameters, input 32x32/);
  assert.ok(summary.testAccuracy > 0.25, `test accuracy ${summary.testAccuracy} well above chance (0.1)`);
  assert.equal([summary.deployTestAccuracy, summary.dataSource, summary.skippedImages], [summary.testAccuracy, 'folder', 0]);
});

test('the class names and the preprocessing reach config.json, every checkpoint and deploy.safetensors', () => {
  const config = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')) as { modelCard: ModelCard; options: { data: Record<string, unknown> } };
  assert.equal(config.modelCard.classes, classes);
  assert.equal([config.modelCard.inputSize, config.modelCard.imageSize, config.modelCard.cropPct, config.modelCard.config.inChannels], [32, 32, 1, 3]);
  assert.equal(config.options.data.folder, images);
  for (const file of ['last.safetensors', 'best.safetensors', 'deploy.safetensors']) {
    const full = path.join(out, file), md = parseSafetensorsMetadata(fs.readFileSync(full), full);
    assert.equal(JSON.parse(md.classes), classes, file);
    assert.equal([md.input_size, md.in_channels, md.crop_pct, md.arch], ['32', '3', '1', 'small'], file);
    assert.equal(readModelCard(md, full), config.modelCard, `${file}: the same card as config.json`);
  }
});

test('repmlp eval --data DIR needs no --arch: the training and the deploy form give the run\'s accuracy', async () => {
  const r = await runCli(['eval', '--weights', path.join(out, 'last.safetensors'), '--data', images, '--workers', '1', '--json']);
  assert.is(r.code, 0, r.stderr);
  const e = JSON.parse(r.stdout) as { accuracy: number; total: number; form: string };
  assert.equal([e.form, e.total, e.accuracy], ['train', 200, summary.testAccuracy]);
  const text = await runCli(['eval', '--weights', path.join(out, 'deploy.safetensors'), '--data', path.join(images, 'val'), '--batch-size', '50']);
  assert.match(text.stdout, /^data: 200 images of 10 classes from .*val, input 32x32, crop_pct 1$/m);
  const correct = Math.round(200 * summary.testAccuracy);
  assert.match(text.stdout, new RegExp(`\\(deploy form\\): top-1 accuracy ${(correct / 2).toFixed(2)}% \\(${correct}/200\\), top-5 .* on the images of .*val\\n$`));
});

/** The deploy model's softmax over the val images, in the folder's order, rendered by the run's own test transform. */
async function referenceProbabilities(weights: string): Promise<{ files: string[]; labels: Int32Array; probs: Float64Array[] }> {
  const w = readModelWeights(weights), card = w.card!;
  const ds = scanImageFolder(path.join(images, 'val'), card.classes);
  const loader = new FolderLoader(ds, { ...cardTransform(card), batchSize: 64, shuffle: false, workers: 1 });
  const model = deployModel(w.state, card.config, 'train', 'cpu', weights);
  const probs: Float64Array[] = [];
  for await (const b of loader.batches()) {
    const logits = noGrad(() => model.forward(tensor(b.x, b.shape)).toFloat32Array());
    for (let i = 0; i < b.shape[0]; i++) probs.push(softmax(logits.subarray(i * 10, i * 10 + 10)));
  }
  await loader.close();
  model.dispose();
  return { files: ds.files, labels: ds.labels, probs };
}

test('repmlp predict agrees with the model: the argmax for every file, softmax probabilities, eval\'s accuracy', async () => {
  const weights = path.join(out, 'last.safetensors');
  const r = await runCli(['predict', '--weights', weights, path.join(images, 'val'), '--json', '--top', '10', '--batch-size', '24', '--progress-every', '100']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, /^predict: 120\/200 files, \d+\.\d files\/s, ETA \d+s\n$/, 'without a terminal, a line every 100 files');
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { file: string; top: { label: string; index: number; probability: number }[] });
  const ref = await referenceProbabilities(weights);
  assert.equal(lines.map((l) => l.file), ref.files, 'every file, in the folder\'s order');
  let correct = 0;
  lines.forEach((l, i) => {
    const p = ref.probs[i], argmax = p.indexOf(Math.max(...p));
    assert.equal(Object.keys(l).sort(), ['file', 'top']);
    assert.is(l.top[0].index, argmax, `${l.file}: top-1`);
    assert.is(l.top[0].label, classes[argmax]);
    for (const c of l.top) assert.ok(Math.abs(c.probability - p[c.index]) < 1e-5, `${l.file}: p(${c.label}) ${c.probability} vs ${p[c.index]}`);
    assert.ok(Math.abs(l.top.reduce((s, c) => s + c.probability, 0) - 1) < 1e-9, 'all ten sum to 1');
    if (l.top[0].index === ref.labels[i]) correct++;
  });
  assert.is(correct / lines.length, summary.testAccuracy, 'the accuracy eval and the run report');
  let err = '';
  await main(['predict', '--weights', weights, ...ref.files.slice(0, 40), '--batch-size', '8'], { out: () => {}, err: (t) => void (err += t), errIsTty: true });
  assert.match(err, /^\rpredict: 8\/40 files, .*\r\x1b\[K$/s, 'on a terminal, one line redrawn and cleared');
  const text = await runCli(['predict', '--weights', path.join(out, 'deploy.safetensors'), ref.files[0], '--top', '2']);
  assert.match(text.stdout, new RegExp(`^${ref.files[0].replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: [^,]+ \\(0\\.\\d{4}\\), [^,]+ \\(0\\.\\d{4}\\)\\n$`));
});

test('repmlp predict: a bad file stops it with exit code 1 naming the file; --skip-bad-images skips and counts them', async () => {
  const dir = path.join(tmp, 'predict-bad');
  const bad = await writeBadImages(dir);
  const good = scanImageFolder(path.join(images, 'val')).files.slice(0, 3);
  for (const f of good) fs.copyFileSync(f, path.join(dir, path.basename(f)));
  const weights = path.join(out, 'deploy.safetensors');
  const image = 'an image \\(JPEG, PNG, WebP, GIF, AVIF or TIFF\\)';
  const messages: [string, string, string][] = [
    [bad.corrupt, image, 'a corrupt image'], [bad.truncated, image, 'a truncated image'], [bad.empty, image, 'an empty file \\(0 bytes\\)'],
    [bad['not-image'], image, 'a file that is not an image'], [bad.huge, 'an image of at most 89478485 pixels \\(maxPixels\\)', '60000x60000'],
  ];
  for (const [file, expected, received] of messages)
    await assertRejects(main(['predict', '--weights', weights, file], { out: () => {}, err: () => {} }), new RegExp(`^decodeImage: expected ${expected} for ${file.replace(/[.]/g, '\\.')} but received ${received}`));
  const p = runCliProcess(['predict', '--weights', weights, dir]);
  assert.is(p.code, 1, 'exit code 1');
  assert.match(p.stderr, /^repmlp: decodeImage: expected an image \(JPEG, PNG, WebP, GIF, AVIF or TIFF\) for .*corrupt\.png but received a corrupt image/);
  const s = await runCli(['predict', '--weights', weights, dir, '--skip-bad-images', '--json']);
  assert.is(s.code, 0, s.stderr);
  assert.equal(s.stdout.trim().split('\n').map((l) => path.basename((JSON.parse(l) as { file: string }).file)), good.map((f) => path.basename(f)).sort());
  for (const f of Object.values(bad)) assert.match(s.stderr, new RegExp(`predict: skipped ${f.replace(/[.]/g, '\\.')} \\(decodeImage: `));
  assert.match(s.stderr, /predict: skipped 5 of 8 files that could not be decoded\n$/);
});

test('command-line mistakes exit 2 with the usage', async () => {
  const cases: [string[], RegExp][] = [
    [['train', '--data', path.join(tmp, 'nope')], /^repmlp train: expected fashion-mnist, cifar10, cifar100 or an image folder for --data but received '.*nope' \(no such folder\)/],
    [['train', '--workers', '2'], /^repmlp train: --workers needs image files: --data DIR \(an image folder\) or --train-list and --val-list/],
    [['train', '--train-list', 'a.txt'], /^repmlp train: --train-list needs --val-list/],
    [['train', '--data', images, '--train-list', 'a.txt', '--val-list', 'b.txt'], /^repmlp train: --data DIR and --train-list \/ --val-list are two ways/],
    [['train', '--data', images, '--randaugment', 'rand-x9'], /^repmlp train: expected raug15, a timm policy such as rand-m9-mstd0\.5-inc1, or none for --randaugment but received 'rand-x9'/],
    [['train', '--data', images, '--in-channels', '2'], /^repmlp train: expected 1, 3 or auto for --in-channels but received '2'/],
    [['train', '--data', images, '--crop-pct', '0'], /^repmlp train: expected a number in \(0, 1\] for --crop-pct but received '0'/],
    [['train', '--data', images, '--norm', 'mine'], /^repmlp train: expected imagenet or dataset for --norm but received 'mine'/],
    [['train', '--data', images, '--data-dir', images], /^repmlp train: --data-dir is for fashion-mnist, cifar10 and cifar100/],
    [['eval', '--weights', 'w', '--crop-pct', '0.9'], /^repmlp eval: --crop-pct needs image files: --data DIR \(an image folder\)\n/],
    [['predict', '--weights', 'w'], /^repmlp predict: expected image files or folders to classify/],
    [['predict', 'x.png'], /^repmlp predict: --weights <file> is required/],
    [['predict', '--weights', 'w', 'x.png', '--top', '0'], /^repmlp predict: expected a positive integer for --top but received '0'/],
  ];
  for (const [args, re] of cases) {
    const r = await runCli(args);
    assert.is(r.code, 2, args.join(' '));
    assert.match(r.stderr, re);
    assert.match(r.stderr, new RegExp(`Usage: repmlp ${args[0]}`));
  }
  assert.match((await runCli(['--help'])).stdout, /predict +classify image files/);
});

test('Ctrl-C stops a folder run after a step, with last.safetensors saved and exit code 130', async () => {
  const dir = path.join(tmp, 'interrupted');
  const r = await interruptCli(['train', '--data', images, '--epochs', '1', '--batch-size', '16', '--limit-train', '96', '--limit-test', '16', '--log-every', '1',
    '--workers', '1', '--out', dir], /step 2\/6/);
  assert.is(r.code, 130, r.stderr);
  assert.match(r.stderr, /repmlp: interrupted: the run stops after this step, saving last\.safetensors/);
  assert.match(r.stdout, /stopped after step \d+; continue with resume/);
  assert.ok(fs.existsSync(path.join(dir, 'last.safetensors')));
  assert.not.ok(fs.existsSync(path.join(dir, 'train.lock')), 'the lock is released');
});

test.run();
