// The transforms against torchvision 0.14 / PIL 9 goldens (test/fixtures/gen_transforms.py):
// resizing (RandomResizedCrop's resized_crop, Resize + CenterCrop), the RandAugment pixel and
// geometric ops, luma, ToTensor + Normalize, and RandomResizedCrop's parameters. Tolerance:
// 0 (the same bytes) for every uint8 op, 1e-6 for the normalised float32 values. libvips'
// own resize is measured against the same goldens (docs/IMAGES.md) to show why it is not used.
import sharp from 'sharp';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rotate, shearX, shearY, translateX, translateY } from '../../../lib/data/images/affine';
import { DEFAULT_ERASING, erasingBox, randomErase } from '../../../lib/data/images/erasing';
import { centerCropOffsets, randomResizedCrop, shorterSideSize } from '../../../lib/data/images/geometry';
import { pyRound, type Image8 } from '../../../lib/data/images/image';
import * as px from '../../../lib/data/images/pixel-ops';
import { applyOp, cutout, randAugment, randAugmentPolicy } from '../../../lib/data/images/randaugment';
import { resize, type Interpolation } from '../../../lib/data/images/resample';
import { flipHorizontal, normalizeInto, transformImage, transformSpec } from '../../../lib/data/images/transform';
import { Rng } from '../../../lib/rng';
import { assertThrows } from '../../helpers';
import { absDiff, loadGoldens, type GoldenCase } from './goldens';
import { tintedSample } from './folder-fixture';

const g = loadGoldens();
type P = Record<string, number & string & number[]>;

/** The crop as its own image (torchvision crops, then resizes the crop). */
function crop(src: Image8, left: number, top: number, w: number, h: number): Image8 {
  return resize(src, src.width, src.height, 'bilinear', undefined, [left, top, w, h]);
}

function evalResize(src: Image8, size: number, cropPct: number, interp: Interpolation): Image8 {
  const [nw, nh] = shorterSideSize(src.width, src.height, Math.trunc(size / cropPct));
  const [top, left] = centerCropOffsets(nw, nh, size, size);
  return resize(src, nw, nh, interp, undefined, [left, top, size, size]);
}

function ours(c: GoldenCase, src: Image8): Image8 {
  const p = c.params as P;
  switch (c.op) {
    case 'resized_crop': return resize(crop(src, p.left, p.top, p.width, p.height), p.size, p.size, p.interpolation as Interpolation);
    case 'eval': return evalResize(src, p.size, p.cropPct, p.interpolation as Interpolation);
    case 'autocontrast': return px.autocontrast(src);
    case 'equalize': return px.equalize(src);
    case 'invert': return px.invert(src);
    case 'solarize': return px.solarize(src, p.value);
    case 'solarize_add': return px.solarizeAdd(src, p.value);
    case 'posterize': return px.posterize(src, p.value);
    case 'color': return px.color(src, p.value);
    case 'contrast': return px.contrast(src, p.value);
    case 'brightness': return px.brightness(src, p.value);
    case 'sharpness': return px.sharpness(src, p.value);
    case 'rotate': return rotate(src, p.value, p.interpolation as Interpolation, p.fill);
    case 'shear_x': return shearX(src, p.value, p.interpolation as Interpolation, p.fill);
    case 'shear_y': return shearY(src, p.value, p.interpolation as Interpolation, p.fill);
    case 'translate_x': return translateX(src, p.value * src.width, p.interpolation as Interpolation, p.fill);
    case 'translate_y': return translateY(src, p.value * src.height, p.interpolation as Interpolation, p.fill);
  }
  throw new Error(`no implementation for golden op ${c.op}`);
}

const GROUPS: Record<string, string[]> = {
  resizing: ['resized_crop', 'eval'],
  'pixel ops': ['autocontrast', 'equalize', 'invert', 'solarize', 'solarize_add', 'posterize', 'color', 'contrast', 'brightness', 'sharpness'],
  'geometric ops': ['rotate', 'shear_x', 'shear_y', 'translate_x', 'translate_y'],
};

for (const [group, ops] of Object.entries(GROUPS))
  test(`${group}: the same bytes as torchvision / PIL`, () => {
    const cases = g.cases.filter((c) => ops.includes(c.op));
    assert.ok(cases.length >= ops.length, `${cases.length} cases`);
    for (const op of ops) assert.ok(cases.some((c) => c.op === op), `a case of ${op}`);
    for (const c of cases) {
      const want = g.image(c), got = ours(c, g.input(c.input));
      assert.equal([got.width, got.height, got.channels], [want.width, want.height, want.channels], `${c.key}: shape`);
      const d = absDiff(got.data, want.data);
      assert.is(d.max, 0, `${c.key}: max difference ${d.max} (mean ${d.mean.toFixed(3)})`);
    }
  });

test('resize with flip is the flipped resize (exactly), for a window too', () => {
  for (const src of [g.input('rgb'), g.input('grey')])
    for (const interp of ['bilinear', 'bicubic'] as const) {
      const plain = resize(src, 23, 17, interp), win: [number, number, number, number] = [3, 2, 15, 12];
      assert.is(absDiff(resize(src, 23, 17, interp, undefined, undefined, true).data, flipHorizontal(plain).data).max, 0);
      assert.is(absDiff(resize(src, 23, 17, interp, undefined, win, true).data, flipHorizontal(resize(src, 23, 17, interp, undefined, win)).data).max, 0);
      assert.is(absDiff(resize(src, src.width, src.height, interp, undefined, undefined, true).data, flipHorizontal(src).data).max, 0, 'same size');
    }
});

test('ToTensor + Normalize within 1e-6', () => {
  const c = g.cases.find((k) => k.key === 'normalize/rgb')!, p = c.params as unknown as { mean: number[]; std: number[] };
  const out = new Float32Array(3 * 32 * 40);
  normalizeInto(g.input('rgb'), p.mean, p.std, out);
  const d = absDiff(out, g.array(c));
  assert.ok(d.max <= 1e-6, `max ${d.max}`);
});

test("libvips' own crop + resize against PIL (measured; the reason resizing is done as PIL does)", async () => {
  const worst: Record<string, { max: number; mean: number }> = {};
  for (const c of g.cases.filter((k) => k.op === 'resized_crop' && k.input === 'rgb')) {
    const p = c.params as P, src = g.input('rgb');
    const out = await sharp(src.data, { raw: { width: src.width, height: src.height, channels: 3 } })
      .extract({ left: p.left, top: p.top, width: p.width, height: p.height })
      .resize(p.size, p.size, { fit: 'fill', kernel: p.interpolation === 'bilinear' ? 'linear' : 'cubic' }).raw().toBuffer();
    const d = absDiff(out, g.image(c).data), kind = p.size > Math.max(p.width, p.height) ? 'upscale' : 'downscale';
    const w = (worst[kind] ??= { max: 0, mean: 0 });
    w.max = Math.max(w.max, d.max);
    w.mean = Math.max(w.mean, d.mean);
  }
  console.log(`  libvips vs PIL: ${JSON.stringify(worst)}`);
  // docs/IMAGES.md quotes these
  assert.ok(worst.downscale.max > 0 && worst.downscale.mean < 4, `downscale ${JSON.stringify(worst.downscale)}`);
  assert.ok(worst.upscale.mean > 3, `upscale is misaligned by half a pixel: ${JSON.stringify(worst.upscale)}`);
});

test("RandomResizedCrop: torchvision's fallback, and crops within the image of the asked area and ratio", () => {
  for (const f of g.fallback) {
    const c = randomResizedCrop(new Rng(1), f.width, f.height, [2, 3], f.ratio);
    assert.equal([c.top, c.left, c.height, c.width], f.crop, `${f.width}x${f.height} ratio ${f.ratio}`);
  }
  const rng = new Rng(5);
  let sawSmall = false;
  for (let i = 0; i < 300; i++) {
    const c = randomResizedCrop(rng, 500, 375, [0.08, 1], [3 / 4, 4 / 3]);
    assert.ok(c.top >= 0 && c.left >= 0 && c.top + c.height <= 375 && c.left + c.width <= 500, 'inside');
    const area = (c.width * c.height) / (500 * 375), ratio = c.width / c.height;
    assert.ok(area >= 0.07 && area <= 1.01 && ratio >= 0.74 && ratio <= 1.35, `area ${area} ratio ${ratio}`);
    sawSmall ||= area < 0.2;
  }
  assert.ok(sawSmall, 'small crops occur');
});

test("Resize + CenterCrop sizes and offsets (Python's round)", () => {
  for (const c of g.centre) {
    assert.equal(shorterSideSize(c.width, c.height, c.size), c.resized, `${c.width}x${c.height} -> ${c.size}`);
    assert.equal(centerCropOffsets(c.resized[0], c.resized[1], c.size, c.size), c.offsets);
  }
  assert.equal([pyRound(0.5), pyRound(1.5), pyRound(2.5), pyRound(-0.5), pyRound(2.6)], [0, 2, 2, -0, 3]);
});

test("RandAugment policies: raug15 and timm's rand-m9-mstd0.5-inc1", () => {
  const mean = [0.485, 0.456, 0.406];
  const r = randAugmentPolicy('raug15', mean, 'bilinear');
  assert.is(r.ops.length, 16);
  assert.ok(r.ops.includes('Cutout') && r.ops.includes('Posterize') && !r.ops.includes('SolarizeIncreasing'));
  assert.equal([r.layers, r.prob, r.magnitude, r.magnitudeMode, r.fill, r.interpolation], [2, 1, 15, 'integer', [128, 128, 128], 'random']);
  const t = randAugmentPolicy('rand-m9-mstd0.5-inc1', mean, 'bicubic');
  assert.equal([t.layers, t.prob, t.magnitude, t.magnitudeStd, t.magnitudeMax, t.fill, t.interpolation], [2, 0.5, 9, 0.5, 10, [124, 116, 104], 'bicubic']);
  assert.is(t.ops.length, 15);
  assert.ok(t.ops.includes('SolarizeIncreasing') && !t.ops.includes('Cutout'));
  assert.equal(randAugmentPolicy('rand-m7-n3-p0.8-inc0-mstd101', mean, 'bilinear').ops.includes('Solarize'), true);
  assert.is(randAugmentPolicy('rand-m7-mstd101', mean, 'bilinear').magnitudeMode, 'uniform');
  assertThrows(() => randAugmentPolicy('auto-v0', mean, 'bilinear'), /^randAugment: expected 'raug15' or a timm string such as 'rand-m9-mstd0\.5-inc1' for policy but received 'auto-v0'$/);
  assertThrows(() => randAugmentPolicy('rand-q3', mean, 'bilinear'), /expected one of m, n, p, mstd, mmax, inc for 'q3' in the policy/);
});

test('RandAugment ops at their levels equal the PIL ops (levels as the reference code maps magnitudes)', () => {
  const img = g.input('rgb'), spec = randAugmentPolicy('rand-m9-mstd0.5-inc1', [0.485, 0.456, 0.406], 'bilinear');
  const same = (a: Image8, b: Image8, what: string) => assert.is(absDiff(a.data, b.data).max, 0, what);
  same(applyOp(img, 'SolarizeIncreasing', 5, spec, new Rng(0)), px.solarize(img, 128), 'solarize 256 - int(0.5 * 256)');
  same(applyOp(img, 'PosterizeIncreasing', 5, spec, new Rng(0)), px.posterize(img, 2), 'posterize 4 - int(0.5 * 4)');
  same(applyOp(img, 'SolarizeAdd', 10, spec, new Rng(0)), px.solarizeAdd(img, 110), 'solarize add int(110)');
  same(applyOp(img, 'Sharpness', 5, spec, new Rng(0)), px.sharpness(img, 1), 'enhance 0.5 * 1.8 + 0.1');
  // the sign of the increasing ops and of the geometric ones is one draw: > 0.5 negates
  const rng = new Rng(9), u = new Rng(9).uniform();
  const f = Math.max(0.1, 1 + (u > 0.5 ? -0.45 : 0.45));
  same(applyOp(img, 'ContrastIncreasing', 5, spec, rng), px.contrast(img, f), 'contrast 1 +- 0.9 * 0.5');
  const r2 = new Rng(4), u2 = new Rng(4).uniform();
  same(applyOp(img, 'Rotate', 10, spec, r2), rotate(img, u2 > 0.5 ? -30 : 30, 'bilinear', spec.fill), 'rotate +-30');
  const raug = randAugmentPolicy('raug15', [0.5, 0.5, 0.5], 'bilinear');
  same(applyOp(img, 'SolarizeAdd', 14, raug, new Rng(0)), px.solarizeAdd(img, 154), 'raug15: magnitudes past 10 unclipped');
});

test('Cutout and random erasing: boxes inside the image, of the documented sizes and values', () => {
  const img = g.input('rgb'), rng = new Rng(2);
  for (let i = 0; i < 50; i++) {
    const out = cutout(img, 20, rng);
    let painted = 0;
    for (let p = 0; p < 32 * 40; p++) if (out.data[p * 3] === 125 && out.data[p * 3 + 1] === 122 && out.data[p * 3 + 2] === 113) painted++;
    assert.ok(painted <= 400, 'at most 20 x 20');
  }
  let erased = 0;
  for (let i = 0; i < 400; i++) {
    const box = erasingBox(rng, DEFAULT_ERASING, 24, 24);
    if (!box) continue;
    erased++;
    const [top, left, h, w] = box, area = (h * w) / 576;
    assert.ok(top >= 0 && left >= 0 && top + h <= 24 && left + w <= 24 && area > 0.005 && area < 0.4, `box ${box}`);
  }
  assert.ok(erased > 60 && erased < 140, `${erased} of 400 erased at p = 0.25`);
  const x = new Float32Array(3 * 16 * 16).fill(7);
  randomErase(x, 0, 3, 16, 16, { ...DEFAULT_ERASING, prob: 1, mode: 'const' }, new Rng(3));
  const zeros = x.filter((v) => v === 0).length;
  assert.ok(zeros > 0 && zeros % 3 === 0 && x.every((v) => v === 0 || v === 7), 'const: zeros in every channel');
  randomErase(x.fill(7), 0, 3, 16, 16, { ...DEFAULT_ERASING, prob: 1, mode: 'pixel' }, new Rng(3));
  const noise = x.filter((v) => v !== 7);
  assert.is(noise.length, zeros, 'pixel mode: the same box');
  assert.ok(Math.abs(noise.reduce((a, b) => a + b, 0) / noise.length) < 0.5, 'standard normal noise');
});

test('transformImage: the same Rng gives the same sample; spec defaults and checks', async () => {
  const { rgb } = tintedSample(1, 120, 90);
  const buf = await sharp(rgb.data, { raw: { width: 120, height: 90, channels: 3 } }).png().toBuffer();
  const spec = transformSpec({ size: 96, train: true, randAugment: 'raug15', erasing: 0.5 });
  const a = await transformImage(buf, 'x.png', spec, new Rng(11)), b = await transformImage(buf, 'x.png', spec, new Rng(11));
  assert.equal(Array.from(a), Array.from(b));
  assert.is(a.length, 3 * 96 * 96);
  const c = await transformImage(buf, 'x.png', spec, new Rng(12));
  assert.ok(absDiff(a, c).max > 0, 'another Rng, another sample');
  const e = await transformImage(buf, 'x.png', transformSpec({ size: 64 }), new Rng(0));
  const want = new Float32Array(3 * 64 * 64);
  normalizeInto(evalResize(rgb, 64, 1, 'bilinear'), [0.485, 0.456, 0.406], [0.229, 0.224, 0.225], want);
  assert.is(absDiff(e, want).max, 0, 'small-image evaluation: shorter side to 64, centre crop');
  const s = transformSpec({});
  assert.equal([s.size, s.channels, s.train, s.interpolation, s.cropPct, s.small, s.randAugment, s.erasing], [224, 3, false, 'bilinear', 0.875, false, null, null]);
  assert.equal(transformSpec({ channels: 1 }).mean.map((v) => v.toFixed(4)), ['0.4490']);
  assertThrows(() => transformSpec({ size: 32, randAugment: 'raug15' }), /^imageTransform: expected null for images of 32 px \(the small-image recipe is pad, crop and flip\) for randAugment but received 'raug15'$/);
  assertThrows(() => transformSpec({ mean: [0.5] }), /imageTransform: expected 3 finite numbers for mean but received \[0\.5\]/);
  assertThrows(() => transformSpec({ scale: [0.5, 0.1] }), /expected \[min, max\] with 0 < min <= max for scale/);
  assertThrows(() => transformSpec({ erasing: { mode: 'x' as 'pixel' } }), /expected 'pixel', 'rand' or 'const' for erasing\.mode/);
});

test('randAugment draws only from its Rng (same Rng, same image; ops vary)', () => {
  const img = g.input('rgb'), spec = randAugmentPolicy('raug15', [0.5, 0.5, 0.5], 'bilinear');
  const outs = new Set<string>();
  for (let s = 0; s < 12; s++) {
    const a = randAugment(img, spec, new Rng(s)), b = randAugment(img, spec, new Rng(s));
    assert.is(absDiff(a.data, b.data).max, 0);
    outs.add(Buffer.from(a.data).toString('base64'));
  }
  assert.ok(outs.size >= 10, `${outs.size} distinct results of 12`);
});

test.run();
