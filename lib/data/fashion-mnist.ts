// Fashion-MNIST (Zalando Research, MIT License): 28x28 grey images in 10 classes.
// Looked up in order: an explicit dir, $REPMLP_FASHION_MNIST, Debian's dataset-fashion-mnist
// package (/usr/share/datasets/fashion-mnist), then the 2000/500-image sample shipped here.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RepmlpError } from '../errors';
import { readIdxImages, readIdxLabels } from './idx';

export const DEBIAN_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';
export const FASHION_MNIST_CLASSES = [
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
] as const;

export interface ImageSplit {
  /** (n, h, w) uint8, row-major */
  images: Uint8Array;
  /** (n) uint8 in 0..9 */
  labels: Uint8Array;
  n: number;
  h: number;
  w: number;
}

export type FashionMnistSource = 'dir' | 'env' | 'debian' | 'sample';

export interface FashionMnist {
  train: ImageSplit;
  test: ImageSplit;
  /** where the data came from, and the directory read */
  source: FashionMnistSource;
  dir: string;
}

const INSTALL_HINT =
  `install the data set with 'apt-get install dataset-fashion-mnist' (files in ${DEBIAN_FASHION_MNIST_DIR}) ` +
  `or download train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and ` +
  `t10k-labels-idx1-ubyte.gz from https://github.com/zalandoresearch/fashion-mnist`;

/** The path of `base` in dir, plain or .gz, or null when neither exists. */
function findFile(dir: string, base: string): string | null {
  for (const name of [base, base + '.gz']) {
    const p = path.join(dir, name);
    if (fs.existsSync(p)) return p;
  }
  return null;
}

function hasAll(dir: string): boolean {
  return ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']
    .every((b) => findFile(dir, b) !== null);
}

/** The sample shipped in the package (data/ next to lib/ in the sources, or next to dist/). */
export function fashionMnistSampleDir(): string {
  const candidates = [
    path.resolve(__dirname, '..', '..', 'data', 'fashion-mnist-sample'),
    path.resolve(__dirname, '..', '..', '..', 'data', 'fashion-mnist-sample'),
  ];
  for (const c of candidates) if (hasAll(c)) return c;
  throw new RepmlpError(`loadFashionMnist: the shipped sample is missing (looked in ${candidates.join(', ')})`);
}

function readSplit(dir: string, prefix: 'train' | 't10k'): ImageSplit {
  const imgFile = findFile(dir, `${prefix}-images-idx3-ubyte`);
  const lblFile = findFile(dir, `${prefix}-labels-idx1-ubyte`);
  if (!imgFile || !lblFile)
    throw new RepmlpError(`loadFashionMnist: ${dir} has no ${prefix}-${imgFile ? 'labels-idx1' : 'images-idx3'}-ubyte(.gz); ${INSTALL_HINT}`);
  const { images, n, h, w } = readIdxImages(imgFile);
  const labels = readIdxLabels(lblFile);
  if (labels.length !== n)
    throw new RepmlpError(`${lblFile}: ${labels.length} labels but ${imgFile} has ${n} images`);
  for (let i = 0; i < labels.length; i++)
    if (labels[i] > 9) throw new RepmlpError(`${lblFile}: label ${labels[i]} at index ${i} is not a class in 0..9`);
  return { images, labels, n, h, w };
}

function readDir(dir: string, source: FashionMnistSource): FashionMnist {
  return { train: readSplit(dir, 'train'), test: readSplit(dir, 't10k'), source, dir };
}

/**
 * Loads Fashion-MNIST. `dir` (or $REPMLP_FASHION_MNIST) must exist when given; otherwise the
 * Debian package is used when installed, else the shipped sample (2000 train / 500 test).
 */
export function loadFashionMnist(opts: { dir?: string } = {}): FashionMnist {
  if (opts.dir !== undefined) {
    if (typeof opts.dir !== 'string' || !fs.existsSync(opts.dir))
      throw new RepmlpError(`loadFashionMnist: the directory ${String(opts.dir)} does not exist; ${INSTALL_HINT}`);
    return readDir(opts.dir, 'dir');
  }
  const env = process.env.REPMLP_FASHION_MNIST;
  if (env) {
    if (!fs.existsSync(env))
      throw new RepmlpError(`loadFashionMnist: REPMLP_FASHION_MNIST=${env} does not exist; ${INSTALL_HINT}`);
    return readDir(env, 'env');
  }
  if (hasAll(DEBIAN_FASHION_MNIST_DIR)) return readDir(DEBIAN_FASHION_MNIST_DIR, 'debian');
  return readDir(fashionMnistSampleDir(), 'sample');
}
