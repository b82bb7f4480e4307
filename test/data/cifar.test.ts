// CIFAR-10/100 binary readers on small synthetic files written here.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertThrows } from '../helpers';
import { CIFAR_IMAGE_BYTES, loadCifar10, loadCifar100, readCifarBatch } from '../../lib/data/cifar';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'repmlp-cifar-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function image(i: number): Uint8Array {
  const b = new Uint8Array(CIFAR_IMAGE_BYTES);
  for (let j = 0; j < b.length; j++) b[j] = (j * 13 + i * 101) & 0xff;
  return b;
}

/** A batch file of records [labels..., image]. */
function writeBatch(file: string, labels: number[][]): void {
  const rec = labels[0].length + CIFAR_IMAGE_BYTES;
  const out = new Uint8Array(labels.length * rec);
  labels.forEach((l, i) => {
    out.set(l, i * rec);
    out.set(image(i), i * rec + l.length);
  });
  fs.writeFileSync(file, out);
}

test('CIFAR-10 batch: labels and CHW images', () => {
  const f = path.join(tmp, 'b10.bin');
  writeBatch(f, [[3], [9], [0]]);
  const s = readCifarBatch(f);
  assert.equal([s.n, s.c, s.h, s.w], [3, 3, 32, 32]);
  assert.equal(Array.from(s.labels), [3, 9, 0]);
  assert.is(s.coarseLabels, undefined);
  assert.equal(Array.from(s.images.subarray(CIFAR_IMAGE_BYTES, 2 * CIFAR_IMAGE_BYTES)), Array.from(image(1)));
});

test('CIFAR-100 batch: coarse and fine labels', () => {
  const f = path.join(tmp, 'b100.bin');
  writeBatch(f, [[19, 99], [4, 30]]);
  const s = readCifarBatch(f, 'cifar100');
  assert.equal(Array.from(s.labels), [99, 30]);
  assert.equal(Array.from(s.coarseLabels!), [19, 4]);
  assert.equal(Array.from(s.images.subarray(CIFAR_IMAGE_BYTES)), Array.from(image(1)));
});

test('loadCifar10 / loadCifar100 read and concatenate the standard files', () => {
  const d10 = path.join(tmp, 'c10');
  fs.mkdirSync(d10);
  for (let i = 1; i <= 5; i++) writeBatch(path.join(d10, `data_batch_${i}.bin`), [[i], [i + 1]]);
  writeBatch(path.join(d10, 'test_batch.bin'), [[7]]);
  const c10 = loadCifar10(d10);
  assert.equal(Array.from(c10.train.labels), [1, 2, 2, 3, 3, 4, 4, 5, 5, 6]);
  assert.is(c10.train.images.length, 10 * CIFAR_IMAGE_BYTES);
  assert.equal(Array.from(c10.train.images.subarray(3 * CIFAR_IMAGE_BYTES, 4 * CIFAR_IMAGE_BYTES)), Array.from(image(1)));
  assert.is(c10.test.n, 1);
  const d100 = path.join(tmp, 'c100');
  fs.mkdirSync(d100);
  writeBatch(path.join(d100, 'train.bin'), [[1, 10], [2, 20], [3, 30]]);
  writeBatch(path.join(d100, 'test.bin'), [[5, 50]]);
  const c100 = loadCifar100(d100);
  assert.equal(Array.from(c100.train.coarseLabels!), [1, 2, 3]);
  assert.equal(Array.from(c100.test.labels), [50]);
});

test('errors: truncated, empty, bad labels, missing files, bad variant', () => {
  const f = path.join(tmp, 'bad.bin');
  writeBatch(f, [[1], [2]]);
  fs.truncateSync(f, 2 * 3073 - 100);
  assertThrows(() => readCifarBatch(f), /bad\.bin: 6046 bytes is not a whole number of 3073-byte CIFAR-10 records \(1 records and 2973 bytes left over/);
  fs.writeFileSync(f, new Uint8Array(0));
  assertThrows(() => readCifarBatch(f, 'cifar100'), /bad\.bin: empty file, expected CIFAR-100 records of 3074 bytes/);
  writeBatch(f, [[1], [12]]);
  assertThrows(() => readCifarBatch(f), /bad\.bin: label 12 of record 1 is not a class in 0\.\.9/);
  writeBatch(f, [[25, 3]]);
  assertThrows(() => readCifarBatch(f, 'cifar100'), /coarse label 25 of record 0 is not a class in 0\.\.19/);
  writeBatch(f, [[2, 100]]);
  assertThrows(() => readCifarBatch(f, 'cifar100'), /label 100 of record 0 is not a class in 0\.\.99/);
  assertThrows(() => readCifarBatch(path.join(tmp, 'none.bin')), /none\.bin: cannot read the file/);
  assertThrows(() => readCifarBatch(f, 'cifar1000' as never), /readCifarBatch: expected 'cifar10' or 'cifar100' for variant but received cifar1000/);
  assertThrows(() => loadCifar10(tmp), /loadCifar10: .* has no data_batch_1\.bin, .*test_batch\.bin/);
  assertThrows(() => loadCifar100(tmp), /loadCifar100: .* has no train\.bin, test\.bin/);
});

test.run();
