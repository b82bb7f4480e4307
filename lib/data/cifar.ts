// CIFAR-10 / CIFAR-100 binary versions. Each record is the label byte(s) then 3072 image bytes
// (3, 32, 32): 1024 red, 1024 green, 1024 blue, rows top to bottom.
//   CIFAR-10:  data_batch_1..5.bin, test_batch.bin; record = label (0..9) + image (3073 bytes)
//   CIFAR-100: train.bin, test.bin; record = coarse (0..19) + fine (0..99) + image (3074 bytes)
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RepmlpError } from '../errors';
import { readFileBounded } from '../io/read';

export const CIFAR_IMAGE_BYTES = 3 * 32 * 32;

/** The largest batch file read (1 GiB; CIFAR-100's train.bin, the largest, is 150 MB). */
export const CIFAR_MAX_FILE_BYTES = 2 ** 30;

export type CifarVariant = 'cifar10' | 'cifar100';

/** CIFAR-10's class names, in label order (batches.meta.txt of the binary version). */
export const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'] as const;

/**
 * CIFAR-100's fine class names from fine_label_names.txt beside the batch files (the binary
 * version ships it); '0' ... '99' when it is missing or does not hold 100 names.
 */
export function cifar100Classes(dir: string): string[] {
  let names: string[] = [];
  try {
    names = fs.readFileSync(path.join(dir, 'fine_label_names.txt'), 'utf8').split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  } catch {
    // no names file: the labels' numbers
  }
  return names.length === 100 ? names : Array.from({ length: 100 }, (_, i) => String(i));
}

export interface CifarSplit {
  /** (n, 3, 32, 32) uint8 */
  images: Uint8Array;
  /** (n): CIFAR-10 classes, or CIFAR-100 fine classes */
  labels: Uint8Array;
  /** (n): CIFAR-100 coarse classes (superclasses); absent for CIFAR-10 */
  coarseLabels?: Uint8Array;
  n: number;
  c: 3;
  h: 32;
  w: 32;
}

/** Reads one CIFAR binary batch file. */
export function readCifarBatch(file: string, variant: CifarVariant = 'cifar10'): CifarSplit {
  if (variant !== 'cifar10' && variant !== 'cifar100')
    throw new RepmlpError(`readCifarBatch: expected 'cifar10' or 'cifar100' for variant but received ${String(variant)}`);
  const raw = readFileBounded(file, { maxBytes: CIFAR_MAX_FILE_BYTES });
  const labelBytes = variant === 'cifar10' ? 1 : 2;
  const rec = labelBytes + CIFAR_IMAGE_BYTES;
  const name = variant === 'cifar10' ? 'CIFAR-10' : 'CIFAR-100';
  if (raw.length === 0) throw new RepmlpError(`${file}: empty file, expected ${name} records of ${rec} bytes`);
  if (raw.length % rec !== 0)
    throw new RepmlpError(
      `${file}: ${raw.length} bytes is not a whole number of ${rec}-byte ${name} records ` +
        `(${Math.floor(raw.length / rec)} records and ${raw.length % rec} bytes left over: truncated or not a ${name} file)`,
    );
  const n = raw.length / rec;
  const images = new Uint8Array(n * CIFAR_IMAGE_BYTES);
  const labels = new Uint8Array(n);
  const coarse = variant === 'cifar100' ? new Uint8Array(n) : undefined;
  const fineMax = variant === 'cifar10' ? 9 : 99;
  for (let i = 0; i < n; i++) {
    const o = i * rec;
    if (coarse) {
      coarse[i] = raw[o];
      if (coarse[i] > 19) throw new RepmlpError(`${file}: coarse label ${coarse[i]} of record ${i} is not a class in 0..19`);
    }
    labels[i] = raw[o + labelBytes - 1];
    if (labels[i] > fineMax)
      throw new RepmlpError(`${file}: label ${labels[i]} of record ${i} is not a class in 0..${fineMax} (not a ${name} file?)`);
    images.set(raw.subarray(o + labelBytes, o + rec), i * CIFAR_IMAGE_BYTES);
  }
  return { images, labels, coarseLabels: coarse, n, c: 3, h: 32, w: 32 };
}

function concat(parts: CifarSplit[]): CifarSplit {
  const n = parts.reduce((a, p) => a + p.n, 0);
  const images = new Uint8Array(n * CIFAR_IMAGE_BYTES);
  const labels = new Uint8Array(n);
  const coarse = parts[0].coarseLabels ? new Uint8Array(n) : undefined;
  let k = 0;
  for (const p of parts) {
    images.set(p.images, k * CIFAR_IMAGE_BYTES);
    labels.set(p.labels, k);
    if (coarse) coarse.set(p.coarseLabels!, k);
    k += p.n;
  }
  return { images, labels, coarseLabels: coarse, n, c: 3, h: 32, w: 32 };
}

function requireFiles(dir: string, files: string[], name: string): string[] {
  const paths = files.map((f) => path.join(dir, f));
  const missing = paths.filter((p) => !fs.existsSync(p));
  if (missing.length)
    throw new RepmlpError(`load${name}: ${dir} has no ${missing.map((p) => path.basename(p)).join(', ')} ` +
      `(the binary version, from https://www.cs.toronto.edu/~kriz/cifar.html)`);
  return paths;
}

/** CIFAR-10 from a directory holding data_batch_1..5.bin and test_batch.bin. */
export function loadCifar10(dir: string): { train: CifarSplit; test: CifarSplit } {
  const files = requireFiles(dir, [...[1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`), 'test_batch.bin'], 'Cifar10');
  const test = files.pop()!;
  return { train: concat(files.map((f) => readCifarBatch(f, 'cifar10'))), test: readCifarBatch(test, 'cifar10') };
}

/** CIFAR-100 from a directory holding train.bin and test.bin. */
export function loadCifar100(dir: string): { train: CifarSplit; test: CifarSplit } {
  const [train, test] = requireFiles(dir, ['train.bin', 'test.bin'], 'Cifar100');
  return { train: readCifarBatch(train, 'cifar100'), test: readCifarBatch(test, 'cifar100') };
}
