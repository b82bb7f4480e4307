// Image folders as torchvision's ImageFolder reads them: DIR/<class>/**/<image>, classes and
// files sorted by code point (Python's string order), labels = class index. Also the ImageNet
// layout (DIR/train/<class>, DIR/val/<class>) and file lists ("path label" per line).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, fail } from '../../errors';

/** The image files and their labels; classes[label] names a label. */
export interface FolderDataset {
  files: string[];
  /** (n) class indices */
  labels: Int32Array;
  classes: string[];
  /** the folder (or list file) it was read from */
  root: string;
}

/** Extensions read (lower-cased); torchvision's list less the formats sharp does not decode. */
export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp', '.gif', '.avif', '.tif', '.tiff'] as const;
/** Image extensions torchvision reads that sharp does not: a folder holding them is an error. */
const UNSUPPORTED = ['.bmp', '.ppm', '.pgm', '.pbm'];

/** Python's string order: by code point (JavaScript's < compares UTF-16 units). */
export function codePointCompare(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; ) {
    const ca = a.codePointAt(i)!, cb = b.codePointAt(i)!;
    if (ca !== cb) return ca - cb;
    i += ca > 0xffff ? 2 : 1;
  }
  return a.length - b.length;
}

function sorted(xs: string[]): string[] {
  return [...xs].sort(codePointCompare);
}

function isImage(name: string): boolean {
  const lower = name.toLowerCase();
  return IMAGE_EXTENSIONS.some((e) => lower.endsWith(e));
}

function checkDir(op: string, dir: string): void {
  if (typeof dir !== 'string') fail(op, 'dir', 'a folder path', describe(dir));
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    return fail(op, 'dir', 'an existing folder', `'${dir}', which does not exist`);
  }
  if (!st.isDirectory()) fail(op, 'dir', 'a folder', `'${dir}', which is a file`);
}

/**
 * The images under a folder (a class folder), in os.walk order: folders sorted by path, files
 * by name (links followed); a BMP, PPM, PGM or PBM file is an error naming it.
 */
export function walkImages(op: string, top: string): string[] {
  const groups: [string, string[]][] = [];
  const visit = (dir: string): void => {
    const files: string[] = [];
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, e.name);
      const isDir = e.isDirectory() || (e.isSymbolicLink() && fs.statSync(full, { throwIfNoEntry: false })?.isDirectory());
      if (isDir) visit(full);
      else if (isImage(e.name)) files.push(e.name);
      else if (UNSUPPORTED.some((x) => e.name.toLowerCase().endsWith(x)))
        fail(op, full, `an image in one of ${IMAGE_EXTENSIONS.join(' ')}`, 'a format that is not read (BMP, PPM, PGM, PBM: convert it to PNG)');
    }
    groups.push([dir, sorted(files)]);
  };
  visit(top);
  groups.sort((a, b) => codePointCompare(a[0], b[0]));
  return groups.flatMap(([dir, files]) => files.map((f) => path.join(dir, f)));
}

/** The class folders of dir, sorted; folders whose name starts with '.' are not classes. */
export function listClasses(dir: string, op = 'scanImageFolder'): string[] {
  checkDir(op, dir);
  const classes = fs.readdirSync(dir, { withFileTypes: true })
    .filter((e) => !e.name.startsWith('.') && (e.isDirectory() || (e.isSymbolicLink() && fs.statSync(path.join(dir, e.name)).isDirectory())))
    .map((e) => e.name);
  if (classes.length === 0) fail(op, dir, 'class folders holding images (DIR/<class>/<image>)', 'a folder without subfolders');
  return sorted(classes);
}

/**
 * Reads DIR/<class>/**\/<image>. With `classes` (a training set's), the folder must have exactly
 * those classes, and its labels are indices into them.
 */
export function scanImageFolder(dir: string, classes?: readonly string[], op = 'scanImageFolder'): FolderDataset {
  const found = listClasses(dir, op);
  if (classes) checkSameClasses(op, dir, classes, found);
  const files: string[] = [], labels: number[] = [], empty: string[] = [];
  found.forEach((c, label) => {
    const images = walkImages(op, path.join(dir, c));
    if (images.length === 0) empty.push(c);
    for (const f of images) {
      files.push(f);
      labels.push(label);
    }
  });
  if (empty.length > 0)
    fail(op, `the class folders of ${dir}`, `at least one image (${IMAGE_EXTENSIONS.join(' ')}) in each`, `none in ${empty.map((c) => `'${c}'`).join(', ')}`);
  return { files, labels: Int32Array.from(labels), classes: found, root: dir };
}

function checkSameClasses(op: string, dir: string, expected: readonly string[], found: readonly string[]): void {
  const missing = expected.filter((c) => !found.includes(c)), extra = found.filter((c) => !expected.includes(c));
  if (missing.length === 0 && extra.length === 0) return;
  const parts = [];
  if (missing.length) parts.push(`missing ${missing.slice(0, 5).map((c) => `'${c}'`).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}`);
  if (extra.length) parts.push(`extra ${extra.slice(0, 5).map((c) => `'${c}'`).join(', ')}${extra.length > 5 ? ` and ${extra.length - 5} more` : ''}`);
  fail(op, `the classes of ${dir}`, `the training classes (${expected.length})`, `${found.length} classes: ${parts.join('; ')}`);
}

export interface Splits {
  train: FolderDataset;
  val: FolderDataset;
  classes: string[];
}

/**
 * The training and validation sets: `dir` and `valDir` when valDir is given, else the ImageNet
 * layout DIR/train and DIR/val. The validation classes must be the training classes.
 */
export function findSplits(dir: string, valDir?: string): Splits {
  const op = 'findSplits';
  checkDir(op, dir);
  let trainDir = dir;
  if (valDir === undefined) {
    trainDir = path.join(dir, 'train');
    valDir = path.join(dir, 'val');
    if (!fs.existsSync(trainDir) || !fs.existsSync(valDir))
      fail(op, 'dir', `a folder with train/ and val/ (ImageNet layout), or a validation folder`,
        `'${dir}' without ${fs.existsSync(trainDir) ? 'val/' : 'train/'}`);
  }
  const train = scanImageFolder(trainDir, undefined, op);
  const val = scanImageFolder(valDir, train.classes, op);
  return { train, val, classes: train.classes };
}

/**
 * A data set from a list file: one `path label` per line (the label last, after a space or
 * tab; paths relative to the list's folder; blank lines and lines starting with # skipped).
 * Labels are integers in [0, classes.length), classes defaulting to '0' ... String(max label).
 */
export function readFileList(listFile: string, classes?: readonly string[]): FolderDataset {
  const op = 'readFileList';
  let text: string;
  try {
    text = fs.readFileSync(listFile, 'utf8');
  } catch (e) {
    return fail(op, 'listFile', 'a readable file', `'${listFile}' (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const base = path.dirname(listFile), files: string[] = [], labels: number[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = /^(.*\S)\s+(\S+)$/.exec(line);
    const where = `line ${i + 1} of ${listFile}`;
    if (!m) return fail(op, where, "'<path> <label>'", `'${line}'`);
    const label = Number(m[2]);
    if (!Number.isInteger(label) || label < 0 || (classes && label >= classes.length))
      fail(op, where, `a label in 0..${classes ? classes.length - 1 : 'n'}`, `'${m[2]}'`);
    files.push(path.resolve(base, m[1]));
    labels.push(label);
  });
  if (files.length === 0) fail(op, 'listFile', 'at least one `path label` line', `'${listFile}' without any`);
  const max = labels.reduce((a, b) => Math.max(a, b), 0);
  return { files, labels: Int32Array.from(labels), classes: classes ? [...classes] : Array.from({ length: max + 1 }, (_, i) => String(i)), root: listFile };
}
