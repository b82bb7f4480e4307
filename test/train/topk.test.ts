// Top-k accuracy (lib/train/topk.ts) on hand-made logits: the label's place among its row,
// ties by class index and NaN first as torch.argmax orders them, k = 1 counting exactly what
// correctCount counts on the device, k capped at the classes; and evaluate()'s top-5 beside
// its top-1.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { batchToTensors, correctCount, DataLoader, fashionMnistSampleDir, limitDataset, loadData, noGrad, RepMLPNet, scope, tensor } from '../../lib/index';
import { evaluate } from '../../lib/train/evaluate';
import { top5K, topkCorrect } from '../../lib/train/topk';
import { assertThrows, DEVICE } from '../helpers';

// 6 classes; each row's label and where it stands.
const ROWS: [number[], number][] = [
  [[0.1, 0.9, 0.3, 0.2, 0.5, 0.4], 1], // first
  [[0.1, 0.9, 0.3, 0.2, 0.5, 0.4], 5], // third (0.9, 0.5 before 0.4)
  [[0.1, 0.9, 0.3, 0.2, 0.5, 0.4], 0], // sixth: outside the top 5
  [[1, 1, 1, 1, 1, 1], 4], // all tied: classes 0..3 come first, so fifth
  [[1, 1, 1, 1, 1, 1], 5], // all tied: sixth
  [[0, NaN, 2, 3, 4, 5], 1], // NaN counts as the largest: first
  [[NaN, 0, 0, 0, 0, NaN], 5], // the second NaN: after the first, before the rest: second
  [[-1, -2, -3, -4, -5, -6], 4], // fifth
];
const K = 6;
const logits = Float32Array.from(ROWS.flatMap(([r]) => r));
const labels = BigInt64Array.from(ROWS.map(([, y]) => BigInt(y)));
// The label's place (1-based) in each row.
const PLACES = [1, 3, 6, 5, 6, 1, 2, 5];

test('topkCorrect counts the rows whose label is among the k largest logits', () => {
  for (let k = 1; k <= 7; k++) {
    const expected = PLACES.filter((p) => p <= k).length;
    assert.is(topkCorrect(logits, labels, K, k), expected, `k = ${k}`);
  }
  assert.is(topkCorrect(logits, labels, K, 5), 6);
  // one row at a time, by its place
  ROWS.forEach(([row, y], i) => {
    assert.is(topkCorrect(Float32Array.from(row), [y], K, PLACES[i]), 1, `row ${i} at place ${PLACES[i]}`);
    assert.is(topkCorrect(Float32Array.from(row), [y], K, PLACES[i] - 1 || 1), PLACES[i] === 1 ? 1 : 0, `row ${i} before its place`);
  });
});

test('k = 1 counts what correctCount counts (ties and NaN included)', () => {
  const z = tensor(logits, [ROWS.length, K], { device: DEVICE });
  const y = tensor(labels, [ROWS.length], { device: DEVICE, dtype: 'int64' });
  assert.is(correctCount(z, y).item(), topkCorrect(logits, labels, K, 1));
  for (const t of [z, y]) t.dispose();
});

test('fewer than 5 classes: top-5 is top-k of all of them, and every row counts', () => {
  assert.equal([top5K(10), top5K(5), top5K(3), top5K(1)], [5, 5, 3, 1]);
  const three = Float32Array.of(3, 2, 1, 1, 2, 3);
  assert.is(topkCorrect(three, [2n, 2n], 3, top5K(3)), 2);
  assert.is(topkCorrect(three, [2n, 2n], 3, 2), 1);
});

test('topkCorrect: bad arguments', () => {
  assertThrows(() => topkCorrect(new Float32Array(5), [0, 1], 3, 1), /^topkCorrect: expected 2 rows of 3 classes \(6 values\) for logits but received 5 values$/);
  assertThrows(() => topkCorrect(new Float32Array(6), [0, 3], 3, 1), /^topkCorrect: expected a class in \[0, 3\) for labels\[1\] but received 3$/);
  assertThrows(() => topkCorrect(new Float32Array(6), [0, 1], 3, 0), /^topkCorrect: expected a positive integer for k but received 0$/);
  assertThrows(() => top5K(0), /^top5K: expected a positive integer for numClasses but received 0$/);
});

test('evaluate: top-1 and top-5 over every batch, the last one short', async () => {
  const data = loadData('fashion-mnist', fashionMnistSampleDir(), 'test');
  const model = new RepMLPNet({
    inChannels: 1, numClasses: 10, patchSize: 4, numBlocks: [1], channels: [8], hs: [8], ws: [8], sharesetsNums: [2], reparamConvK: [3],
  }, { seed: 1, device: DEVICE });
  const loader = new DataLoader(limitDataset(data.test, 40), { batchSize: 16, shuffle: false, mean: data.mean, std: data.std, padTo: 32, numClasses: 10 });
  const ev = await evaluate(model, loader);
  let top1 = 0, top5 = 0;
  for await (const b of loader.batches()) {
    const z = scope(() => noGrad(() => model.forward(batchToTensors(b, DEVICE).x).toFloat32Array()));
    top1 += topkCorrect(z, b.labels, 10, 1);
    top5 += topkCorrect(z, b.labels, 10, 5);
  }
  assert.equal([ev.total, ev.correct, ev.top5Correct, ev.topK], [40, top1, top5, 5]);
  assert.equal([ev.accuracy, ev.top5Accuracy], [top1 / 40, top5 / 40]);
  assert.ok(top5 > top1, `an untrained model's top-5 (${top5}) holds more than its top-1 (${top1})`);
  await loader.close();
  model.dispose();
});

test.run();
