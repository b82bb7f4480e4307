// Decoding with sharp (libvips): JPEG, PNG (8 and 16 bit), WebP, GIF (first frame), AVIF and
// TIFF. EXIF orientation is applied; the result is grey (1 channel) or sRGB (3 channels):
//   - alpha is dropped, as PIL's convert('RGB') does (torchvision's ImageFolder loader);
//   - CMYK, palette and 16-bit images are converted by libvips (16-bit to 8 bits, ~ v / 256);
//   - one channel from a colour image is ITU-R 601 luma computed as PIL's convert('L') does,
//     (R * 19595 + G * 38470 + B * 7471 + 0x8000) >> 16; a grey image keeps its own values.
// A file that cannot be decoded throws a RepmlpError naming the file and what is wrong.
import * as fs from 'node:fs';
import sharp from 'sharp';
import { describe, fail } from '../../errors';
import type { DecodedImage } from './image';

// Each file is decoded once per epoch: libvips' operation cache would only hold memory.
sharp.cache(false);

const OP = 'decodeImage';
const EXPECTED = 'an image (JPEG, PNG, WebP, GIF, AVIF or TIFF)';

/** Default pixel limit (width * height): PIL's MAX_IMAGE_PIXELS, past which PIL warns of a decompression bomb. */
export const DEFAULT_MAX_PIXELS = 89_478_485;

/** The pixel count guard and the channel count a caller wants. */
export interface DecodeOptions {
  /** 3 (RGB, default) or 1 (grey) */
  channels?: 1 | 3;
  /** refuse images with more pixels than this (default DEFAULT_MAX_PIXELS) */
  maxPixels?: number;
}

/** What the header says, with width and height after the EXIF orientation. */
export interface ImageHeader {
  format: string;
  width: number;
  height: number;
  /** one colour channel in the file (grey or grey + alpha) */
  grey: boolean;
}

/** A crop in the oriented image, in pixels. */
export interface Region {
  left: number;
  top: number;
  width: number;
  height: number;
}

function maxPixelsOf(opts: DecodeOptions): number {
  const m = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (!Number.isInteger(m) || m < 1) fail(OP, 'maxPixels', 'a positive integer', describe(m));
  return m;
}

/** A libvips message turned into what the file is. */
function whatIsWrong(message: string): string {
  if (/unsupported image format|bad seek|not a known file format/i.test(message)) return 'a file that is not an image';
  if (/pixel limit/i.test(message)) return `an image over the pixel limit (${message})`;
  if (/premature end|truncat|unexpected end|end of (file|stream|data)|out of data/i.test(message)) return `a truncated image (${message})`;
  return `a corrupt image (${message})`;
}

/** Reads a file whole; missing, unreadable and empty files fail here. */
export function readImageFile(file: string): Buffer {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    return fail(OP, file, 'a readable file', `${(e as NodeJS.ErrnoException).code ?? 'an error'}: ${(e as Error).message}`);
  }
  if (buf.length === 0) fail(OP, file, EXPECTED, 'an empty file (0 bytes)');
  return buf;
}

/** The header of an encoded image; `file` names it in errors. Checks the pixel limit. */
export async function readHeader(buf: Buffer, file: string, opts: DecodeOptions = {}): Promise<ImageHeader> {
  const maxPixels = maxPixelsOf(opts);
  if (buf.length === 0) fail(OP, file, EXPECTED, 'an empty file (0 bytes)');
  let m: sharp.Metadata;
  try {
    m = await sharp(buf, { limitInputPixels: false }).metadata();
  } catch (e) {
    return fail(OP, file, EXPECTED, whatIsWrong((e as Error).message));
  }
  if (!m.width || !m.height) fail(OP, file, EXPECTED, `an image without dimensions (${m.format ?? 'unknown format'})`);
  if (m.width * m.height > maxPixels)
    fail(OP, file, `an image of at most ${maxPixels} pixels (maxPixels)`, `${m.width}x${m.height} = ${m.width * m.height} pixels`);
  const o = m.autoOrient ?? { width: m.width, height: m.height };
  const grey = m.space === 'b-w' || m.space === 'grey16';
  return { format: m.format ?? 'unknown', width: o.width, height: o.height, grey };
}

/** ITU-R 601 luma of (n, 3) RGB pixels, as PIL's convert('L'). */
export function luma(rgb: Uint8Array): Uint8Array {
  const n = rgb.length / 3, out = new Uint8Array(n);
  for (let i = 0, j = 0; i < n; i++, j += 3) out[i] = (rgb[j] * 19595 + rgb[j + 1] * 38470 + rgb[j + 2] * 7471 + 0x8000) >>> 16;
  return out;
}

function firstChannel(rgb: Uint8Array): Uint8Array {
  const out = new Uint8Array(rgb.length / 3);
  for (let i = 0; i < out.length; i++) out[i] = rgb[i * 3];
  return out;
}

/** Geometric work done by libvips while decoding (the 'libvips' resampler): resize to width x height, then crop `window`, then mirror. */
export interface LibvipsResize {
  width: number;
  height: number;
  kernel: 'linear' | 'cubic';
  window?: Region;
  flip?: boolean;
}

/**
 * Decodes an encoded image (oriented, converted to `channels`), optionally only `region` of it
 * (exact pixels), optionally resized by libvips. `header` is readHeader's for the same buffer.
 */
export async function decodeBuffer(
  buf: Buffer, file: string, header: ImageHeader, opts: DecodeOptions & { region?: Region; resize?: LibvipsResize } = {},
): Promise<DecodedImage> {
  const channels = opts.channels ?? 3;
  if (channels !== 1 && channels !== 3) fail(OP, 'channels', '1 or 3', describe(channels));
  let p = sharp(buf, { limitInputPixels: maxPixelsOf(opts), failOn: 'error' }).rotate();
  if (opts.region) p = p.extract(opts.region);
  const r = opts.resize;
  if (r) {
    p = p.resize(r.width, r.height, { fit: 'fill', kernel: r.kernel });
    if (r.window) p = p.extract(r.window);
    if (r.flip) p = p.flop();
  }
  // always through sRGB: libvips' 16-bit grey to 8-bit 'b-w' rounds differently from its sRGB path
  p = p.removeAlpha().toColourspace('srgb');
  let out: { data: Buffer; info: sharp.OutputInfo };
  try {
    out = await p.raw().toBuffer({ resolveWithObject: true });
  } catch (e) {
    return fail(OP, file, EXPECTED, whatIsWrong((e as Error).message));
  }
  const { width, height } = out.info;
  let data = new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.length);
  if (out.info.channels !== 3) fail(OP, file, '3 channels after conversion to sRGB', `${out.info.channels} (${header.format})`);
  if (channels === 1) data = header.grey ? firstChannel(data) : luma(data);
  return { data, width, height, channels };
}

/** Decodes an image file: (height, width, channels) uint8, oriented, grey or RGB. */
export async function decodeImage(file: string, opts: DecodeOptions = {}): Promise<DecodedImage> {
  const buf = readImageFile(file);
  return decodeBuffer(buf, file, await readHeader(buf, file, opts), opts);
}
