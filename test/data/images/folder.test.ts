// Image folders: torchvision's ImageFolder order (classes and files by code point, nested
// folders as os.walk), extensions, the ImageNet layout and a separate validation folder, file
// lists, and the errors for empty folders, class folders without images and mismatched classes.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { codePointCompare, findSplits, readFileList, scanImageFolder } from '../../../lib/data/images/folder';
import { assertThrows } from '../../helpers';
import { buildImageFolder } from './folder-fixture';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'repmlp-folder-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function touch(...parts: string[]): string {
  const f = path.join(tmp, ...parts);
  fs.mkdirSync(path.dirname(f), { recursive: true });
  fs.writeFileSync(f, 'x');
  return f;
}

test('code-point order is Python\'s, not UTF-16\'s', () => {
  // U+FF5E (one UTF-16 unit, 0xFF5E) sorts before U+1F600 (surrogates 0xD83D ...) by code point
  const xs = ['\u{1F600}', '\uFF5E', 'B', 'a', '_', 'A'];
  assert.equal([...xs].sort(codePointCompare), ['A', 'B', '_', 'a', '\uFF5E', '\u{1F600}']);
  assert.equal([...xs].sort(), ['A', 'B', '_', 'a', '\u{1F600}', '\uFF5E'], 'JavaScript\'s default differs');
});

test('classes and files sorted as ImageFolder, nested folders walked, extensions case-insensitive', () => {
  const root = path.join(tmp, 'order');
  const files = [
    touch('order', 'b', 'z.PNG'), touch('order', 'b', 'a.jpg'), touch('order', 'b', 'sub', 'c.webp'), touch('order', 'b', 'sub-x', 'd.tif'),
    touch('order', 'B', 'x.JPEG'), touch('order', 'a_', 'k.gif'), touch('order', 'a_', 'k.avif'), touch('order', 'a_', 'notes.txt'),
    touch('order', 'a_', '.hidden.jpg'), touch('order', '.cache', 'q.jpg'),
  ];
  const ds = scanImageFolder(root);
  assert.equal(ds.classes, ['B', 'a_', 'b'], "'.cache' is not a class; upper case first");
  const rel = ds.files.map((f) => path.relative(root, f));
  // os.walk order: each folder's files (sorted), folders sorted by path: b, b/sub, b/sub-x
  assert.equal(rel, ['B/x.JPEG', 'a_/.hidden.jpg', 'a_/k.avif', 'a_/k.gif', 'b/a.jpg', 'b/z.PNG', 'b/sub/c.webp', 'b/sub-x/d.tif']);
  assert.equal(Array.from(ds.labels), [0, 1, 1, 1, 2, 2, 2, 2]);
  assert.is(ds.root, root);
  assert.ok(files.length > 0);
});

test('errors: missing folder, a file, no class folders, a class without images, BMP', () => {
  assertThrows(() => scanImageFolder(path.join(tmp, 'nope')), /^scanImageFolder: expected an existing folder for dir but received '.*nope', which does not exist$/);
  const f = touch('plain.txt');
  assertThrows(() => scanImageFolder(f), /expected a folder for dir but received '.*plain\.txt', which is a file/);
  fs.mkdirSync(path.join(tmp, 'empty'));
  assertThrows(() => scanImageFolder(path.join(tmp, 'empty')), /expected class folders holding images \(DIR\/<class>\/<image>\) for .*empty but received a folder without subfolders/);
  touch('noimg', 'cat', 'a.jpg');
  touch('noimg', 'dog', 'readme.md');
  fs.mkdirSync(path.join(tmp, 'noimg', 'eel'));
  assertThrows(() => scanImageFolder(path.join(tmp, 'noimg')), /expected at least one image \(\.jpg .*\) in each for the class folders of .*noimg but received none in 'dog', 'eel'/);
  touch('bmp', 'cat', 'a.bmp');
  assertThrows(() => scanImageFolder(path.join(tmp, 'bmp')), /expected an image in one of \.jpg .* for .*a\.bmp but received a format that is not read \(BMP/);
});

test('ImageNet layout, a separate validation folder, and mismatched classes', async () => {
  const fx = await buildImageFolder({ perClass: 4, classes: 3, layout: 'imagenet', kinds: ['png'], dir: path.join(tmp, 'inet') });
  const s = findSplits(fx.dir);
  assert.equal(s.classes, [...fx.classes].sort(codePointCompare));
  assert.is(s.train.files.length, 9);
  assert.is(s.val.files.length, 3);
  assert.equal(s.val.classes, s.train.classes);
  for (const [i, f] of s.val.files.entries()) assert.is(s.val.classes[s.val.labels[i]], path.basename(path.dirname(f)));
  const other = findSplits(path.join(fx.dir, 'train'), path.join(fx.dir, 'val'));
  assert.equal(other.val.files, s.val.files);
  assertThrows(() => findSplits(path.join(fx.dir, 'train')), /^findSplits: expected a folder with train\/ and val\/ \(ImageNet layout\), or a validation folder for dir but received '.*train' without train\//);
  fs.renameSync(path.join(fx.dir, 'val', s.classes[0]), path.join(fx.dir, 'val', 'zebra'));
  assertThrows(() => findSplits(fx.dir), new RegExp(`expected the training classes \\(3\\) for the classes of .*val but received 3 classes: missing '${s.classes[0]}'; extra 'zebra'`));
});

test('file lists: paths relative to the list, the label last, errors by line', () => {
  const a = touch('list', 'imgs', 'a b.jpg'), b = touch('list', 'imgs', 'c.png');
  const list = path.join(tmp, 'list', 'train.txt');
  fs.writeFileSync(list, '# path label\nimgs/a b.jpg 2\n\nimgs/c.png\t0\n');
  const ds = readFileList(list);
  assert.equal(ds.files, [a, b]);
  assert.equal(Array.from(ds.labels), [2, 0]);
  assert.equal(ds.classes, ['0', '1', '2']);
  assert.equal(readFileList(list, ['x', 'y', 'z', 'w']).classes, ['x', 'y', 'z', 'w']);
  assertThrows(() => readFileList(list, ['x', 'y']), /^readFileList: expected a label in 0\.\.1 for line 2 of .*train\.txt but received '2'$/);
  fs.writeFileSync(list, 'imgs/c.png\nimgs/c.png -1\n');
  assertThrows(() => readFileList(list), /expected '<path> <label>' for line 1 of .*train\.txt but received 'imgs\/c\.png'/);
  fs.writeFileSync(list, '\n# nothing\n');
  assertThrows(() => readFileList(list), /expected at least one `path label` line for listFile/);
  assertThrows(() => readFileList(path.join(tmp, 'no.txt')), /expected a readable file for listFile but received '.*no\.txt' \(ENOENT\)/);
});

test.run();
