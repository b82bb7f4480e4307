// Image folders for tests, built from the Fashion-MNIST sample shipped with repmlp: each image
// written with sharp in one of several kinds (JPEG, PNG, WebP, grey, RGBA, 16-bit PNG, CMYK JPEG,
// EXIF-rotated JPEG, GIF, TIFF, AVIF) at varied sizes, with the pixels a decoder should return.
// Also the bad files the decoder must refuse (corrupt, truncated, empty, not an image, too large).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import sharp from 'sharp';
import { fashionMnistSampleDir, FASHION_MNIST_CLASSES, loadFashionMnist } from '../../../lib/data/fashion-mnist';
import type { Image8 } from '../../../lib/data/images/image';

export const KINDS = ['jpeg', 'png', 'webp', 'grey', 'rgba', 'png16', 'cmyk', 'exif', 'gif', 'tiff', 'avif'] as const;
export type Kind = (typeof KINDS)[number];

export interface FixtureImage {
  file: string;
  label: number;
  kind: Kind;
  /** what decoding to RGB should give (height, width, 3) */
  rgb: Image8;
  /** the largest per-pixel difference the format's compression allows (0 = lossless) */
  tolerance: number;
}

export interface ImageFolderFixture {
  dir: string;
  classes: string[];
  images: FixtureImage[];
  /** removes the folder */
  remove(): void;
}

export interface FolderFixtureOptions {
  /** images per class (default 4) */
  perClass?: number;
  /** number of classes, the first of Fashion-MNIST's (default 10) */
  classes?: number;
  /** which kinds, in turn (default all) */
  kinds?: readonly Kind[];
  /** 'flat' (DIR/<class>/...) or 'imagenet' (DIR/train/<class>, DIR/val/<class>; default flat) */
  layout?: 'flat' | 'imagenet';
  /** [width, height] of each image, in turn (default a few sizes around 28..64) */
  sizes?: readonly [number, number][];
  /** where to build it (default a new temporary folder) */
  dir?: string;
  /** first sample image used (default 0) */
  offset?: number;
}

const SIZES: [number, number][] = [[28, 28], [40, 32], [33, 47], [64, 48], [50, 50], [36, 60]];

/** Class folder names: Fashion-MNIST's, with '/' replaced. */
export function fixtureClasses(k = 10): string[] {
  return FASHION_MNIST_CLASSES.slice(0, k).map((c) => c.replace(/\//g, '_'));
}

let sample: ReturnType<typeof loadFashionMnist>['train'] | null = null;
/** The shipped sample's training split, read once. */
const sampleTrain = () => (sample ??= loadFashionMnist({ dir: fashionMnistSampleDir() }).train);

/** Sample image i of the shipped Fashion-MNIST training split, scaled (nearest) to w x h and tinted to RGB. */
export function tintedSample(i: number, w: number, h: number): { rgb: Image8; label: number } {
  const fm = sampleTrain();
  const src = fm.images.subarray(i * 784, i * 784 + 784), data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const g = src[Math.floor((y * 28) / h) * 28 + Math.floor((x * 28) / w)], o = (y * w + x) * 3;
      data[o] = g;
      data[o + 1] = 255 - g;
      data[o + 2] = 64 + (g >> 1);
    }
  return { rgb: { data, width: w, height: h, channels: 3 }, label: fm.labels[i] };
}

function greyOf(rgb: Image8): Image8 {
  const n = rgb.width * rgb.height, data = new Uint8Array(n);
  for (let i = 0; i < n; i++) data[i] = rgb.data[i * 3];
  return { data, width: rgb.width, height: rgb.height, channels: 1 };
}

function asRgb(grey: Image8): Image8 {
  const n = grey.width * grey.height, data = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) data[i * 3] = data[i * 3 + 1] = data[i * 3 + 2] = grey.data[i];
  return { data, width: grey.width, height: grey.height, channels: 3 };
}

const JPEG: sharp.JpegOptions = { quality: 95, chromaSubsampling: '4:4:4' };

/** (96 + g / 4, 160 - g / 4, 128) from the tinted image's first channel g. */
function muted(rgb: Image8): Image8 {
  const data = new Uint8Array(rgb.data.length);
  for (let i = 0; i < data.length; i += 3) {
    const g = rgb.data[i];
    data[i] = 96 + (g >> 2);
    data[i + 1] = 160 - (g >> 2);
    data[i + 2] = 128;
  }
  return { ...rgb, data };
}

const raw = (im: Image8) => sharp(im.data, { raw: { width: im.width, height: im.height, channels: im.channels as 1 | 3 | 4 } });

/** Writes `rgb` as `kind` to base + extension; returns the file and what decoding must give. */
export async function writeKind(kind: Kind, rgb: Image8, base: string): Promise<{ file: string; rgb: Image8; tolerance: number }> {
  const w = rgb.width, h = rgb.height;
  const out = async (ext: string, p: sharp.Sharp, expect: Image8, tolerance: number) => {
    const file = base + ext;
    await p.toFile(file);
    return { file, rgb: expect, tolerance };
  };
  switch (kind) {
    case 'jpeg': return out('.jpg', raw(rgb).jpeg(JPEG), rgb, 24);
    case 'png': return out('.png', raw(rgb).png(), rgb, 0);
    case 'webp': return out('.webp', raw(rgb).webp({ lossless: true }), rgb, 0);
    case 'tiff': return out('.tiff', raw(rgb).tiff({ compression: 'lzw' }), rgb, 0);
    case 'avif': return out('.avif', raw(rgb).avif({ quality: 90 }), rgb, 24);
    case 'grey': {
      const g = greyOf(rgb);
      return out('.png', raw(g).toColourspace('b-w').png(), asRgb(g), 0);
    }
    case 'gif': {
      const g = greyOf(rgb);
      return out('.gif', raw(g).toColourspace('b-w').gif({ dither: 0 }), asRgb(g), 0);
    }
    case 'rgba': {
      const data = new Uint8Array(w * h * 4);
      for (let i = 0; i < w * h; i++) {
        data.set(rgb.data.subarray(i * 3, i * 3 + 3), i * 4);
        data[i * 4 + 3] = (i * 7) % 256; // alpha that varies, to be dropped
      }
      return out('.png', raw({ data, width: w, height: h, channels: 4 }).png(), rgb, 0);
    }
    case 'png16': {
      // 16-bit grey v * 256 + 0x55: 8 bits after scaling whichever way the decoder rounds
      const g = greyOf(rgb), v16 = new Uint16Array(w * h);
      for (let i = 0; i < w * h; i++) v16[i] = g.data[i] * 256 + 0x55;
      return out('.png', sharp(v16, { raw: { width: w, height: h, channels: 1 } }).toColourspace('grey16').png(), asRgb(g), 0);
    }
    case 'cmyk': {
      // muted colours, inside the CMYK gamut of libvips' default profile (it converts both ways)
      const m = muted(rgb);
      return out('.jpg', raw(m).toColourspace('cmyk').jpeg({ quality: 95, chromaSubsampling: '4:4:4' }), m, 24);
    }
    case 'exif': {
      // stored turned a quarter anticlockwise, with orientation 6 (turn clockwise to show)
      const stored = await raw(rgb).rotate(-90).raw().toBuffer();
      const p = sharp(stored, { raw: { width: h, height: w, channels: 3 } }).withMetadata({ orientation: 6 }).jpeg(JPEG);
      return out('.jpg', p, rgb, 24);
    }
  }
}

/** Builds an image folder from the Fashion-MNIST sample (see the options). */
export async function buildImageFolder(opts: FolderFixtureOptions = {}): Promise<ImageFolderFixture> {
  const perClass = opts.perClass ?? 4, k = opts.classes ?? 10, kinds = opts.kinds ?? KINDS, sizes = opts.sizes ?? SIZES;
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'repmlp-images-'));
  const classes = fixtureClasses(k), counts = new Array(k).fill(0), images: FixtureImage[] = [];
  const fm = sampleTrain();
  let n = 0;
  for (let i = opts.offset ?? 0; i < fm.n && counts.some((c) => c < perClass); i++) {
    const label = fm.labels[i];
    if (label >= k || counts[label] >= perClass) continue;
    const split = opts.layout === 'imagenet' ? (counts[label] % 4 === 3 ? 'val' : 'train') : '';
    const classDir = path.join(dir, split, classes[label]);
    fs.mkdirSync(classDir, { recursive: true });
    const [w, h] = sizes[n % sizes.length], kind = kinds[n % kinds.length];
    const { rgb } = tintedSample(i, w, h);
    const written = await writeKind(kind, rgb, path.join(classDir, `img_${String(i).padStart(5, '0')}`));
    images.push({ ...written, label, kind });
    counts[label]++;
    n++;
  }
  return { dir, classes, images, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

function crc32(buf: Uint8Array): number {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4), crc = Buffer.alloc(4), td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  len.writeUInt32BE(data.length);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/** A valid PNG header for a w x h grey image whose data is a few bytes (a decompression bomb's header). */
export function hugePng(w: number, h: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 0, 0, 0, 0], 8); // 8-bit grey
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([sig, pngChunk('IHDR', ihdr), pngChunk('IDAT', zlib.deflateSync(Buffer.alloc(16))), pngChunk('IEND', Buffer.alloc(0))]);
}

export type BadKind = 'corrupt' | 'truncated' | 'empty' | 'not-image' | 'huge';

/** Writes one file of each bad kind into dir; returns kind -> file. */
export async function writeBadImages(dir: string): Promise<Record<BadKind, string>> {
  fs.mkdirSync(dir, { recursive: true });
  const { rgb } = tintedSample(0, 64, 48);
  const png = await raw(rgb).png().toBuffer(), jpg = await raw(rgb).jpeg().toBuffer();
  const corrupt = Buffer.from(png);
  for (let i = 60; i < corrupt.length - 20; i++) corrupt[i] ^= 0x5a; // IDAT bytes (and their CRC) damaged
  const files: Record<BadKind, [string, Uint8Array]> = {
    corrupt: ['corrupt.png', corrupt],
    truncated: ['truncated.jpg', jpg.subarray(0, jpg.length >> 1)],
    empty: ['empty.jpg', new Uint8Array(0)],
    'not-image': ['notes.jpg', Buffer.from('this is a text file, not a JPEG\n')],
    huge: ['huge.png', hugePng(60000, 60000)],
  };
  const out = {} as Record<BadKind, string>;
  for (const [k, [name, bytes]] of Object.entries(files) as [BadKind, [string, Uint8Array]][]) {
    out[k] = path.join(dir, name);
    fs.writeFileSync(out[k], bytes);
  }
  return out;
}
