// decodeImage: every kind of file the folder fixture writes decodes to its pixels (RGB and
// grey), EXIF orientation applied, alpha dropped; bad files fail with the documented errors.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RepmlpError } from '../../../lib/errors';
import { assertRejects } from '../../helpers';
import { decodeImage, luma } from '../../../lib/data/images/decode';
import { absDiff, loadGoldens } from './goldens';
import { buildImageFolder, KINDS, tintedSample, writeBadImages, writeKind, type ImageFolderFixture } from './folder-fixture';

let fx: ImageFolderFixture;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'repmlp-decode-'));

test.before(async () => {
  fx = await buildImageFolder({ perClass: 2, classes: 6, dir: path.join(tmp, 'folder') });
});
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('every kind decodes to its pixels as RGB (within the format\'s loss)', async () => {
  const seen = new Set<string>();
  for (const im of fx.images) {
    const d = await decodeImage(im.file);
    assert.equal([d.width, d.height, d.channels], [im.rgb.width, im.rgb.height, 3], `${im.kind}: size`);
    const e = absDiff(d.data, im.rgb.data);
    assert.ok(e.max <= im.tolerance, `${im.kind} ${im.file}: max difference ${e.max} > ${im.tolerance}`);
    if (im.tolerance > 0) assert.ok(e.mean <= 5, `${im.kind}: mean difference ${e.mean}`);
    seen.add(im.kind);
  }
  assert.equal([...seen].sort(), [...KINDS].sort(), 'the fixture has every kind');
});

test('one channel: grey files keep their values, colour files give ITU-R 601 luma', async () => {
  for (const im of fx.images.filter((i) => ['grey', 'png16', 'png', 'webp', 'tiff', 'rgba'].includes(i.kind))) {
    const d = await decodeImage(im.file, { channels: 1 });
    assert.is(d.channels, 1);
    assert.equal(absDiff(d.data, luma(im.rgb.data)).max, 0, `${im.kind}: luma`);
  }
});

test("luma is PIL's convert('L') exactly", () => {
  const g = loadGoldens(), rgb = g.input('rgb');
  const want = g.image(g.cases.find((c) => c.key === 'luma/rgb')!);
  assert.equal(absDiff(luma(rgb.data), want.data).max, 0);
});

test('EXIF orientation is applied (a 40x32 image stored as 32x40 with orientation 6)', async () => {
  const { rgb } = tintedSample(3, 40, 32);
  const w = await writeKind('exif', rgb, path.join(tmp, 'turned'));
  const d = await decodeImage(w.file);
  assert.equal([d.width, d.height], [40, 32]);
  assert.ok(absDiff(d.data, rgb.data).mean < 5, 'pixels in display orientation');
});

async function expectError(file: string, re: RegExp, opts = {}): Promise<void> {
  try {
    await decodeImage(file, opts);
  } catch (e) {
    assert.instance(e, RepmlpError);
    assert.match((e as Error).message, re);
    assert.ok((e as Error).message.includes(file), 'the message names the file');
    return;
  }
  assert.unreachable(`${file} decoded`);
}

test('bad files: corrupt, truncated, empty, not an image, too many pixels, missing', async () => {
  const bad = await writeBadImages(path.join(tmp, 'bad'));
  await expectError(bad.corrupt, /^decodeImage: expected an image \(JPEG, PNG, WebP, GIF, AVIF or TIFF\) for .*corrupt\.png but received a corrupt image \(/);
  await expectError(bad.truncated, /but received a truncated image \(VipsJpeg: premature end/);
  await expectError(bad.empty, /but received an empty file \(0 bytes\)$/);
  await expectError(bad['not-image'], /but received a file that is not an image$/);
  await expectError(bad.huge, /expected an image of at most 89478485 pixels \(maxPixels\) for .*huge\.png but received 60000x60000 = 3600000000 pixels/);
  await expectError(path.join(tmp, 'missing.jpg'), /expected a readable file for .*missing\.jpg but received ENOENT/);
});

test('maxPixels is the limit, checked from the header', async () => {
  const im = fx.images.find((i) => i.kind === 'png')!;
  const px = im.rgb.width * im.rgb.height;
  assert.is((await decodeImage(im.file, { maxPixels: px })).width, im.rgb.width);
  await expectError(im.file, new RegExp(`at most ${px - 1} pixels \\(maxPixels\\) for .* but received ${im.rgb.width}x${im.rgb.height}`), { maxPixels: px - 1 });
  await assertRejects(decodeImage(im.file, { maxPixels: 0 }), /decodeImage: expected a positive integer for maxPixels but received 0/);
  await assertRejects(decodeImage(im.file, { channels: 2 as 1 }), /decodeImage: expected 1 or 3 for channels but received 2/);
});

test.run();
