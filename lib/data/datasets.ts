// The data sets the trainer and `repmlp eval` know by name (Fashion-MNIST, CIFAR-10,
// CIFAR-100), each with its normalisation and a line saying where it came from.
import { describe, fail } from '../errors';
import { CIFAR10_CLASSES, cifar100Classes, loadCifar10, loadCifar100 } from './cifar';
import { FASHION_MNIST_CLASSES, loadFashionMnist } from './fashion-mnist';
import type { ImageDataset } from './loader';

export const DATA_NAMES = ['fashion-mnist', 'cifar10', 'cifar100'] as const;
export type DataName = (typeof DATA_NAMES)[number];

export interface LoadedData {
  train: ImageDataset;
  test: ImageDataset;
  numClasses: number;
  /** classes[label] names a label */
  classes: string[];
  /** per-channel mean and std the loader normalises with */
  mean: number[];
  std: number[];
  /** where the images came from (Fashion-MNIST: 'dir', 'env', 'debian' or 'sample'; CIFAR: 'dir') */
  source: string;
  /** the line the trainer and `repmlp eval` print first */
  description: string;
}

/** The first n images of a data set (all of them when n is undefined). */
export function limitDataset(d: ImageDataset, n: number | undefined): ImageDataset {
  if (n === undefined || n >= d.n) return d;
  const per = (d.c ?? 1) * d.h * d.w;
  return { ...d, n, images: d.images.subarray(0, n * per), labels: d.labels.subarray(0, n) };
}

function fashionMnist(dataDir: string | undefined): LoadedData {
  const fm = loadFashionMnist({ dir: dataDir });
  const sizes = `${fm.train.n} train / ${fm.test.n} test images`;
  const description = fm.source === 'sample'
    ? `data: only the Fashion-MNIST sample shipped with repmlp (${sizes}) is available, so accuracies are not those of the full set; 'apt-get install dataset-fashion-mnist' installs the full set (60000 / 10000)`
    : `data: Fashion-MNIST from ${fm.dir}${fm.source === 'debian' ? " (Debian's dataset-fashion-mnist)" : ''}, ${sizes}`;
  return { train: fm.train, test: fm.test, numClasses: 10, classes: [...FASHION_MNIST_CLASSES], mean: [0.286], std: [0.353], source: fm.source, description };
}

function cifar(name: 'cifar10' | 'cifar100', dataDir: string): LoadedData {
  const d = name === 'cifar10' ? loadCifar10(dataDir) : loadCifar100(dataDir);
  const [mean, std] = name === 'cifar10'
    ? [[0.4914, 0.4822, 0.4465], [0.247, 0.2435, 0.2616]]
    : [[0.5071, 0.4865, 0.4409], [0.2673, 0.2564, 0.2762]];
  return {
    train: d.train, test: d.test, numClasses: name === 'cifar10' ? 10 : 100, mean, std, source: 'dir',
    classes: name === 'cifar10' ? [...CIFAR10_CLASSES] : cifar100Classes(dataDir),
    description: `data: ${name} from ${dataDir}, ${d.train.n} train / ${d.test.n} test images`,
  };
}

/**
 * Loads a data set by name. Fashion-MNIST is looked up as loadFashionMnist does when no
 * directory is given; CIFAR needs the directory of its binary version. `op` starts the
 * errors (the caller's name).
 */
export function loadData(name: DataName, dataDir?: string, op = 'loadData'): LoadedData {
  if (name === 'fashion-mnist') return fashionMnist(dataDir);
  if (name === 'cifar10' || name === 'cifar100') {
    if (dataDir === undefined) fail(op, 'dataDir', `the directory of the ${name} binary version`, 'none');
    return cifar(name, dataDir!);
  }
  return fail(op, 'data', "'fashion-mnist', 'cifar10' or 'cifar100'", describe(name));
}
