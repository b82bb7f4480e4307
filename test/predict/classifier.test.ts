// Classifier and predict() from a Node program: weights with a model card load without an
// arch; files and Buffers of the same images give the same predictions, which are the deploy
// form's softmax over the card's evaluation transform; worker threads change nothing; bad
// inputs throw naming them or come back with their error; memory returns to where it was;
// weights written elsewhere need an arch and get the classes '0', '1', ...
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { scanImageFolder } from '../../lib/data/images/folder';
import { FolderLoader } from '../../lib/data/images/folder-loader';
import { cardTransform, modelCardMetadata, type ModelCard } from '../../lib/data/model-card';
import { readSafetensors, writeSafetensors } from '../../lib/io/safetensors';
import { noGrad, RepMLPNet, Rng, tensor, type RepMLPNetConfig } from '../../lib/index';
import { randomizeBatchNorms } from '../../lib/models/randomize';
import { Classifier } from '../../lib/predict/classifier';
import { predict, softmax, type Prediction } from '../../lib/predict/predict';
import { assertRejects, liveStorages } from '../helpers';
import { buildImageFolder, writeBadImages } from '../data/images/folder-fixture';
import { scratchDir } from '../cli/run-cli';

const TINY: RepMLPNetConfig = {
  inChannels: 3, numClasses: 4, patchSize: 2, numBlocks: [1, 1, 1], channels: [8, 16, 32], hs: [16, 8, 4], ws: [16, 8, 4],
  sharesetsNums: [2, 4, 8], reparamConvK: [1, 3], globalPerceptronReduce: 4,
};
const tmp = scratchDir('classifier');
const weights = path.join(tmp, 'train-form.safetensors'), bare = path.join(tmp, 'bare.safetensors');
let files: string[] = [];
let card: ModelCard;

test.before(async () => {
  const fx = await buildImageFolder({ perClass: 3, classes: 4, kinds: ['png', 'jpeg', 'webp', 'grey', 'cmyk', 'exif'], dir: path.join(tmp, 'images') });
  const ds = scanImageFolder(fx.dir);
  files = ds.files;
  card = { arch: 'custom', config: TINY, classes: ds.classes, inputSize: 32, imageSize: 32, mean: [0.5, 0.4, 0.3], std: [0.2, 0.25, 0.3], cropPct: 1, interpolation: 'bilinear', resampler: 'pil' };
  const model = new RepMLPNet(TINY, { seed: 3 });
  randomizeBatchNorms(model, new Rng(4));
  writeSafetensors(weights, model.stateDict(), { metadata: { format: 'pt', form: 'train', ...modelCardMetadata(card) } });
  writeSafetensors(bare, model.stateDict());
  model.dispose();
});
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The softmax of the Locality-Injected model over the card's evaluation batches of `files`. */
async function expected(): Promise<Float64Array[]> {
  const model = new RepMLPNet(TINY);
  model.loadStateDict(readSafetensors(weights));
  model.eval();
  model.localityInjection();
  const ds = { files, labels: new Int32Array(files.length), classes: card.classes, root: tmp };
  const loader = new FolderLoader(ds, { ...cardTransform(card), batchSize: files.length, shuffle: false, workers: 0 });
  const b = await loader.next();
  await loader.close();
  const logits = noGrad(() => model.forward(tensor(b.x, b.shape)).toFloat32Array());
  model.dispose();
  return files.map((_, i) => softmax(logits.subarray(i * 4, i * 4 + 4)));
}

const scores = (ps: Prediction[]) => ps.map((p) => p.top.map((c) => [c.index, c.label, Number(c.probability.toFixed(6))]));

test('Classifier.load reads the card; files and Buffers give the deploy form\'s softmax, most probable first', async () => {
  const c = await Classifier.load(weights, { device: 'cpu' });
  assert.equal([c.classes, c.form, c.card.inputSize], [card.classes, 'train', 32]);
  const onFiles = await c.classify(files, { top: 4, batchSize: 5 });
  const onBuffers = await c.classify(files.map((f) => fs.readFileSync(f)), { top: 4 });
  assert.equal(onFiles.map((p) => p.file), files);
  assert.equal(onBuffers.map((p) => p.file), files.map((_, i) => `buffer ${i}`));
  assert.equal(scores(onBuffers), scores(onFiles), 'the same predictions from Buffers');
  const want = await expected();
  onFiles.forEach((p, i) => {
    const probs = p.top.map((s) => s.probability);
    assert.equal(probs, [...probs].sort((a, b) => b - a), 'most probable first');
    for (const s of p.top) assert.ok(Math.abs(s.probability - want[i][s.index]) < 1e-6, `${p.file}: ${s.probability} vs ${want[i][s.index]}`);
    assert.is(p.top[0].label, card.classes[p.top[0].index]);
  });
  const two = await c.classify(files.slice(0, 2), { top: 2, workers: 2 });
  assert.equal(scores(two), scores(onFiles.slice(0, 2)).map((t) => t.slice(0, 2)), 'worker threads and top 2');
  c.dispose();
  await assertRejects(c.classify(files), /^Classifier: expected a classifier that is not disposed for classify but received a disposed one$/);
});

test('bad inputs throw their error naming them, or come back with it (skipBadImages)', async () => {
  const bad = await writeBadImages(path.join(tmp, 'bad'));
  const c = await Classifier.load(weights, { device: 'cpu' });
  const inputs = [files[0], bad.corrupt, fs.readFileSync(files[1]), new Uint8Array(0), bad['not-image']];
  await assertRejects(c.classify(inputs), /^decodeImage: expected an image \(JPEG, PNG, WebP, GIF, AVIF or TIFF\) for .*corrupt\.png but received a corrupt image/);
  const r = await c.classify(inputs, { skipBadImages: true, top: 1 });
  assert.equal(r.map((p) => p.top.length), [1, 0, 1, 0, 0]);
  assert.match(r[1].error!, /corrupt\.png but received a corrupt image/);
  assert.match(r[3].error!, /^decodeImage: expected an image .* for buffer 3 but received an empty file \(0 bytes\)$/);
  assert.match(r[4].error!, /notes\.jpg but received a file that is not an image/);
  await assertRejects(c.classify([42 as never]), /^predict: expected a file path or a Buffer \(Uint8Array\) of an encoded image for inputs\[0\] but received 42$/);
  c.dispose();
});

test('classifying again and again keeps memory where it was (every batch in a scope)', async () => {
  const c = await Classifier.load(weights, { device: 'cpu' });
  await c.classify(files.slice(0, 2));
  const before = liveStorages();
  for (let i = 0; i < 3; i++) await c.classify(files, { batchSize: 4 });
  const gen = predict((c as unknown as { model: RepMLPNet }).model, files, { card: c.card, batchSize: 2 });
  await gen.next(); // an early end: the rest is never asked for
  await gen.return(undefined);
  assert.equal(liveStorages(), before);
  c.dispose();
});

test('weights that record no card: an arch is needed, classes are their numbers; errors name the file', async () => {
  await assertRejects(Classifier.load(bare), /^Classifier\.load: expected a preset or a config for weights that record none for arch but received .*bare\.safetensors, which records no config$/);
  const c = await Classifier.load(bare, { arch: TINY, device: 'cpu' });
  assert.equal([c.classes, c.card.mean, c.card.cropPct], [['0', '1', '2', '3'], [0.485, 0.456, 0.406], 1]);
  assert.is((await c.classify([files[0]], { top: 9 }))[0].top.length, 4, 'top is capped at the classes');
  c.dispose();
  await assertRejects(Classifier.load(bare, { arch: 'small' }), /^.*bare\.safetensors: loadStateDict: the state dict does not fit RepMLPNet: missing keys: /);
  await assertRejects(Classifier.load(path.join(tmp, 'none.safetensors')), /none\.safetensors/);
});

test.run();
