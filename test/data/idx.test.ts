// IDX reader: round trips (gzip and plain), every corruption error, the shipped sample and
// the full Debian data set.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertThrows } from '../helpers';
import { encodeIdx, readIdxImages, readIdxLabels, writeIdx } from '../../lib/data/idx';
import { DEBIAN_FASHION_MNIST_DIR, fashionMnistSampleDir, loadFashionMnist } from '../../lib/data/fashion-mnist';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'repmlp-idx-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function bytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7) & 0xff;
  return b;
}

function writeSet(dir: string, nTrain: number, nTest: number, gz: boolean): void {
  fs.mkdirSync(dir, { recursive: true });
  const ext = gz ? '.gz' : '';
  for (const [prefix, n] of [['train', nTrain], ['t10k', nTest]] as const) {
    writeIdx(path.join(dir, `${prefix}-images-idx3-ubyte${ext}`), [n, 4, 3], bytes(n * 12, n), gz);
    writeIdx(path.join(dir, `${prefix}-labels-idx1-ubyte${ext}`), [n], bytes(n, 1).map((v) => v % 10), gz);
  }
}

for (const gz of [false, true]) {
  test(`round trip of images and labels (${gz ? 'gzip' : 'plain'})`, () => {
    const img = bytes(5 * 4 * 3, 2), lbl = Uint8Array.from([3, 1, 4, 1, 5]);
    const fi = path.join(tmp, `rt-images${gz ? '.gz' : ''}`), fl = path.join(tmp, `rt-labels${gz ? '.gz' : ''}`);
    writeIdx(fi, [5, 4, 3], img, gz);
    writeIdx(fl, [5], lbl, gz);
    const raw = fs.readFileSync(fi);
    assert.is(raw[0] === 0x1f && raw[1] === 0x8b, gz, 'gzip magic present exactly when gzipped');
    const r = readIdxImages(fi);
    assert.equal([r.n, r.h, r.w], [5, 4, 3]);
    assert.equal(Array.from(r.images), Array.from(img));
    assert.equal(Array.from(readIdxLabels(fl)), [3, 1, 4, 1, 5]);
  });
}

test('corrupt files: bad magic, truncated header or data, bad gzip, missing file', () => {
  const f = path.join(tmp, 'bad');
  fs.writeFileSync(f, encodeIdx([4], Uint8Array.from([1, 2, 3, 4])));
  assertThrows(() => readIdxImages(f), /bad: bad magic 0x00000801, expected 0x00000803 for an IDX images file/);
  fs.writeFileSync(f, encodeIdx([2, 2, 2], bytes(8, 0)));
  assertThrows(() => readIdxLabels(f), /bad magic 0x00000803, expected 0x00000801 for an IDX labels file/);
  fs.writeFileSync(f, encodeIdx([3, 28, 28], bytes(3 * 784, 0)).subarray(0, 16 + 2 * 784 + 5));
  assertThrows(() => readIdxImages(f), /bad: header says 3 images of 28x28 \(2352 bytes\) but the data has 1573 bytes/);
  fs.writeFileSync(f, encodeIdx([3, 2, 2], bytes(12, 0)).subarray(0, 10));
  assertThrows(() => readIdxImages(f), /bad: truncated IDX header: 10 bytes, expected 16/);
  fs.writeFileSync(f, Uint8Array.from([0, 0]));
  assertThrows(() => readIdxLabels(f), /truncated IDX file: 2 bytes/);
  fs.writeFileSync(f, encodeIdx([6], bytes(6, 0)).subarray(0, 12));
  assertThrows(() => readIdxLabels(f), /header says 6 labels \(6 bytes\) but the data has 4 bytes/);
  const gz = zlib.gzipSync(encodeIdx([2, 2, 2], bytes(8, 0)));
  fs.writeFileSync(f, gz.subarray(0, gz.length - 6));
  assertThrows(() => readIdxImages(f), /bad: corrupt gzip data/);
  assertThrows(() => readIdxImages(path.join(tmp, 'nope')), /nope: cannot read the file/);
});

test('loadFashionMnist: explicit dir, plain or gzipped files', () => {
  writeSet(path.join(tmp, 'plain'), 6, 3, false);
  writeSet(path.join(tmp, 'gz'), 5, 2, true);
  const a = loadFashionMnist({ dir: path.join(tmp, 'plain') });
  assert.is(a.source, 'dir');
  assert.equal([a.train.n, a.train.h, a.train.w, a.test.n], [6, 4, 3, 3]);
  assert.equal(Array.from(a.train.images), Array.from(bytes(72, 6)));
  const b = loadFashionMnist({ dir: path.join(tmp, 'gz') });
  assert.equal([b.train.n, b.test.n, b.test.labels.length], [5, 2, 2]);
});

test('loadFashionMnist: errors (missing dir, count mismatch, bad label, env var)', () => {
  assertThrows(() => loadFashionMnist({ dir: path.join(tmp, 'absent') }),
    /loadFashionMnist: the directory .*absent does not exist; install the data set with 'apt-get install dataset-fashion-mnist'/);
  const d = path.join(tmp, 'mismatch');
  writeSet(d, 4, 2, false);
  writeIdx(path.join(d, 'train-labels-idx1-ubyte'), [3], Uint8Array.from([1, 2, 3]), false);
  assertThrows(() => loadFashionMnist({ dir: d }), /train-labels-idx1-ubyte: 3 labels but .*train-images-idx3-ubyte has 4 images/);
  writeIdx(path.join(d, 'train-labels-idx1-ubyte'), [4], Uint8Array.from([1, 2, 12, 3]), false);
  assertThrows(() => loadFashionMnist({ dir: d }), /label 12 at index 2 is not a class in 0..9/);
  fs.rmSync(path.join(d, 't10k-images-idx3-ubyte'));
  writeIdx(path.join(d, 'train-labels-idx1-ubyte'), [4], Uint8Array.from([1, 2, 2, 3]), false);
  assertThrows(() => loadFashionMnist({ dir: d }), /mismatch has no t10k-images-idx3-ubyte\(\.gz\); install the data set/);
  const saved = process.env.REPMLP_FASHION_MNIST;
  try {
    process.env.REPMLP_FASHION_MNIST = path.join(tmp, 'gz');
    assert.is(loadFashionMnist().source, 'env');
    process.env.REPMLP_FASHION_MNIST = path.join(tmp, 'absent-env');
    assertThrows(() => loadFashionMnist(), /REPMLP_FASHION_MNIST=.*absent-env does not exist; install/);
  } finally {
    if (saved === undefined) delete process.env.REPMLP_FASHION_MNIST;
    else process.env.REPMLP_FASHION_MNIST = saved;
  }
});

test('the shipped sample: 2000 train / 500 test 28x28 images, labels in 0..9', () => {
  const s = loadFashionMnist({ dir: fashionMnistSampleDir() });
  assert.equal([s.train.n, s.train.h, s.train.w, s.test.n], [2000, 28, 28, 500]);
  assert.is(s.train.images.length, 2000 * 784);
  const counts = new Array(10).fill(0);
  for (const l of s.train.labels) counts[l]++;
  assert.ok(counts.every((c) => c > 100), `every class present: ${counts}`);
  assert.ok(s.test.labels.every((l) => l <= 9));
});

test('default lookup: the Debian package when installed, else the sample', () => {
  const saved = process.env.REPMLP_FASHION_MNIST;
  delete process.env.REPMLP_FASHION_MNIST;
  try {
    const d = loadFashionMnist();
    if (fs.existsSync(path.join(DEBIAN_FASHION_MNIST_DIR, 'train-images-idx3-ubyte.gz'))) {
      assert.is(d.source, 'debian');
      assert.equal([d.train.n, d.test.n, d.train.h, d.train.w], [60000, 10000, 28, 28]);
      const sample = loadFashionMnist({ dir: fashionMnistSampleDir() });
      assert.equal(Array.from(d.train.images.subarray(0, 2000 * 784)), Array.from(sample.train.images), 'sample = first 2000');
      assert.equal(Array.from(d.test.labels.subarray(0, 500)), Array.from(sample.test.labels));
    } else {
      assert.is(d.source, 'sample');
      assert.equal([d.train.n, d.test.n], [2000, 500]);
    }
  } finally {
    if (saved !== undefined) process.env.REPMLP_FASHION_MNIST = saved;
  }
});

test.run();
