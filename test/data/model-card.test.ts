// The model card in safetensors metadata: written and read back unchanged, absent from weights
// written elsewhere, and every bad value refused naming the file and the key; its evaluation
// transform pads small images as the DataLoader does (Fashion-MNIST's 28 x 28 in a 32 x 32
// model), so that predict and eval give a named data set's model the pixels it trained on.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import sharp from 'sharp';
import { fashionMnistSampleDir, loadFashionMnist } from '../../lib/data/fashion-mnist';
import { transformImage, transformSpec } from '../../lib/data/images/transform';
import { DataLoader } from '../../lib/data/loader';
import { cardTransform, modelCardMetadata, readModelCard, type ModelCard } from '../../lib/data/model-card';
import { preset } from '../../lib/models/presets';
import { Rng } from '../../lib/rng';
import { assertThrows } from '../helpers';

const CARD: ModelCard = {
  arch: 'small', config: preset('small', { inChannels: 1, numClasses: 3 }), classes: ['cat', 'dog', 'émeu'], inputSize: 32, imageSize: 28,
  mean: [0.286], std: [0.353], cropPct: 1, interpolation: 'bicubic', resampler: 'pil',
};

test('written and read back unchanged; none in metadata without classes', () => {
  const md = modelCardMetadata(CARD);
  assert.equal(Object.values(md).every((v) => typeof v === 'string'), true);
  assert.equal(readModelCard(md, 'w.safetensors'), CARD);
  assert.is(readModelCard({ format: 'pt', arch: 'small', form: 'deploy' }, 'w.safetensors'), null);
});

test('bad values are refused, naming the file and the key', () => {
  const md = modelCardMetadata(CARD);
  const cases: [Record<string, string>, RegExp][] = [
    [{ classes: '["a","b"]' }, /^modelCard: expected a JSON array of 3 class names \(config\.numClasses\) for metadata 'classes' in w\.st but received "\[\\"a\\",\\"b\\"\]"$/],
    [{ config: '{"inChannels":1}' }, /^modelCard: expected a RepMLPNet config as JSON for metadata 'config' in w\.st but received/],
    [{ in_channels: '3' }, /expected 1 \(config\.inChannels\), 1 or 3 for metadata 'in_channels' in w\.st but received "3"/],
    [{ input_size: '0' }, /expected a positive integer for metadata 'input_size'/],
    [{ image_size: '40' }, /expected a positive integer <= input_size \(32\) for metadata 'image_size' in w\.st but received "40"/],
    [{ mean: '[0.1, 0.2, 0.3]' }, /expected a JSON array of 1 numbers for metadata 'mean'/],
    [{ std: '[0]' }, /expected a JSON array of 1 positive numbers for metadata 'std'/],
    [{ crop_pct: '1.5' }, /expected a number in \(0, 1\] for metadata 'crop_pct'/],
    [{ interpolation: 'nearest' }, /expected 'bilinear' or 'bicubic' for metadata 'interpolation' in w\.st but received "nearest"/],
    [{ resampler: undefined as unknown as string }, /expected 'pil' or 'libvips' for metadata 'resampler' in w\.st but received none/],
  ];
  for (const [change, re] of cases) assertThrows(() => readModelCard({ ...md, ...change }, 'w.st'), re);
});

test("a Fashion-MNIST model's card pads the 28 x 28 images to 32 x 32 as the DataLoader does", async () => {
  const fm = loadFashionMnist({ dir: fashionMnistSampleDir() }).test;
  const spec = transformSpec(cardTransform(CARD));
  assert.equal([spec.size, spec.outputSize, spec.small], [28, 32, true]);
  const loader = new DataLoader({ ...fm, n: 4, images: fm.images.subarray(0, 4 * 784), labels: fm.labels.subarray(0, 4) }, {
    batchSize: 4, shuffle: false, mean: CARD.mean, std: CARD.std, padTo: 32, prefetch: false,
  });
  const batch = await loader.next();
  for (let i = 0; i < 4; i++) {
    const png = await sharp(fm.images.subarray(i * 784, (i + 1) * 784), { raw: { width: 28, height: 28, channels: 1 } }).png().toBuffer();
    const x = await transformImage(png, `test image ${i}`, spec, new Rng(0));
    assert.equal(Array.from(x), Array.from(batch.x.subarray(i * 1024, (i + 1) * 1024)), `image ${i}`);
  }
  await loader.close();
  assertThrows(() => transformSpec({ size: 96, padTo: 128 }), /^imageTransform: expected an integer >= size \(96\) for small images, or size for padTo but received 128$/);
  assertThrows(() => transformSpec({ size: 28, padTo: 20 }), /expected an integer >= size \(28\) for small images, or size for padTo but received 20/);
});

test.run();
