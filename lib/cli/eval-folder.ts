// `repmlp eval --data DIR`: the evaluation images of an image folder (DIR/val of the ImageNet
// layout, else DIR/<class>/*), labelled by the model card's class names, and their loader with
// the card's evaluation transform (the one the trainer's test loader used).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { scanImageFolder, type FolderDataset } from '../data/images/folder';
import { FolderLoader } from '../data/images/folder-loader';
import { cardTransform, type ModelCard } from '../data/model-card';
import { RepmlpError } from '../errors';

/** The folder whose class folders are evaluated: DIR/val when DIR has train/ and val/, else DIR. */
export function evaluationFolder(dir: string): string {
  const val = path.join(dir, 'val');
  return fs.existsSync(path.join(dir, 'train')) && fs.existsSync(val) ? val : dir;
}

/** The folder's images with labels that index `classes`; a class the model does not know is an error. */
function labelled(ds: FolderDataset, classes: readonly string[]): FolderDataset {
  const index = ds.classes.map((c) => classes.indexOf(c));
  const unknown = ds.classes.filter((_, i) => index[i] < 0);
  if (unknown.length)
    throw new RepmlpError(`eval: expected class folders named as the model's classes (${classes.slice(0, 5).join(', ')}${classes.length > 5 ? ', ...' : ''}) in ${ds.root} but received ${unknown.slice(0, 5).map((c) => `'${c}'`).join(', ')}${unknown.length > 5 ? ` and ${unknown.length - 5} more` : ''}`);
  return { ...ds, labels: Int32Array.from(ds.labels, (l) => index[l]), classes: [...classes] };
}

export interface FolderEvalOptions {
  batchSize: number;
  workers: number | undefined;
  skipBadImages: boolean;
  limit: number | undefined;
}

export interface FolderEval {
  loader: FolderLoader;
  /** the card, with the folder's class names for weights that record none */
  card: ModelCard;
  images: number;
  description: string;
}

/**
 * The evaluation loader of `dir` for a model with `card`; `recorded` is false for weights
 * that record no class names, whose classes are then the folder's (ImageFolder's labels).
 */
export function folderEval(dir: string, card: ModelCard, recorded: boolean, o: FolderEvalOptions): FolderEval {
  const folder = evaluationFolder(dir);
  const scanned = scanImageFolder(folder, undefined, 'eval');
  if (!recorded && scanned.classes.length !== card.classes.length)
    throw new RepmlpError(`eval: expected ${card.classes.length} class folders (the model's classes) in ${folder} but received ${scanned.classes.length}`);
  const cardOut = recorded ? card : { ...card, classes: scanned.classes };
  let ds = labelled(scanned, cardOut.classes);
  if (o.limit !== undefined && o.limit < ds.files.length) ds = { ...ds, files: ds.files.slice(0, o.limit), labels: ds.labels.slice(0, o.limit) };
  const loader = new FolderLoader(ds, {
    ...cardTransform(cardOut), batchSize: o.batchSize, shuffle: false, numClasses: cardOut.classes.length, workers: o.workers, skipBadImages: o.skipBadImages,
  });
  const description = `data: ${ds.files.length} images of ${scanned.classes.length} classes from ${folder}, input ${cardOut.inputSize}x${cardOut.inputSize}, crop_pct ${cardOut.cropPct}`;
  return { loader, card: cardOut, images: ds.files.length, description };
}
