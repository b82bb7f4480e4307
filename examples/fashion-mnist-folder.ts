// Writes Fashion-MNIST as an image folder in the ImageNet layout, to try `repmlp train --data`
// and `repmlp predict` on real files:
//   npx tsx examples/fashion-mnist-folder.ts DIR [limit]
//   repmlp train --data DIR --epochs 3 --out runs/fm-folder
//   repmlp predict --weights runs/fm-folder/deploy.safetensors DIR/val/Sneaker
// DIR/train/<class>/<n>.png holds the training split, DIR/val/<class>/<n>.png the test split
// ('/' in a class name becomes '_'), each image a 28 x 28 grey PNG. The data comes from where
// loadFashionMnist finds it: Debian's dataset-fashion-mnist, or the 2000 / 500-image sample
// shipped with repmlp; `limit` keeps the first images of each split.
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { FASHION_MNIST_CLASSES, loadFashionMnist, type ImageSplit } from '../lib/index';

async function writeSplit(split: ImageSplit, dir: string, limit: number): Promise<number> {
  const n = Math.min(split.n, limit);
  const names = FASHION_MNIST_CLASSES.map((c) => c.replace(/\//g, '_'));
  for (const name of names) fs.mkdirSync(path.join(dir, name), { recursive: true });
  for (let i = 0; i < n; i++) {
    const pixels = split.images.subarray(i * 784, (i + 1) * 784);
    const file = path.join(dir, names[split.labels[i]], `${String(i).padStart(5, '0')}.png`);
    await sharp(pixels, { raw: { width: 28, height: 28, channels: 1 } }).toColourspace('b-w').png().toFile(file);
  }
  return n;
}

async function main(): Promise<void> {
  const dir = process.argv[2];
  if (!dir) throw new Error('usage: npx tsx examples/fashion-mnist-folder.ts DIR [limit]');
  const limit = Number(process.argv[3] ?? Infinity);
  const fm = loadFashionMnist();
  const train = await writeSplit(fm.train, path.join(dir, 'train'), limit);
  const val = await writeSplit(fm.test, path.join(dir, 'val'), limit);
  console.log(`wrote ${train} training and ${val} validation images of Fashion-MNIST (${fm.source}) to ${dir}`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
