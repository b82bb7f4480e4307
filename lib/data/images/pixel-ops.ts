// RandAugment's pixel operations as PIL 9 computes them (ImageOps, ImageEnhance, Image.blend,
// the SMOOTH filter), to the same bytes, on (h, w, c) images with c = 1 (PIL's 'L') or 3 ('RGB').
import type { Image8 } from './image';

/** Applies a 256-entry table per channel (`luts[ch]`, or one table for every channel). */
export function applyLut(img: Image8, luts: Uint8Array | Uint8Array[]): Image8 {
  const c = img.channels, out = new Uint8Array(img.data.length);
  for (let ch = 0; ch < c; ch++) {
    const t = Array.isArray(luts) ? luts[ch] : luts;
    for (let i = ch; i < out.length; i += c) out[i] = t[img.data[i]];
  }
  return { ...img, data: out };
}

function lutOf(f: (i: number) => number): Uint8Array {
  const t = new Uint8Array(256);
  for (let i = 0; i < 256; i++) t[i] = Math.min(255, Math.max(0, f(i)));
  return t;
}

/** The 256-bin histogram of channel ch. */
function histogram(img: Image8, ch: number): Float64Array {
  const h = new Float64Array(256);
  for (let i = ch; i < img.data.length; i += img.channels) h[img.data[i]]++;
  return h;
}

export const invert = (img: Image8): Image8 => applyLut(img, lutOf((i) => 255 - i));

/** ImageOps.solarize: values >= threshold inverted. */
export const solarize = (img: Image8, threshold: number): Image8 => applyLut(img, lutOf((i) => (i < threshold ? i : 255 - i)));

/** timm's solarize_add: `add` added (clipped at 255) to values below threshold. */
export const solarizeAdd = (img: Image8, add: number, threshold = 128): Image8 =>
  applyLut(img, lutOf((i) => (i < threshold ? Math.min(255, i + add) : i)));

/** ImageOps.posterize: keep the top `bits` bits (8 or more: unchanged). */
export function posterize(img: Image8, bits: number): Image8 {
  if (bits >= 8) return img;
  const mask = ~(2 ** (8 - bits) - 1);
  return applyLut(img, lutOf((i) => i & mask));
}

/** ImageOps.autocontrast (cutoff 0): each channel's [lo, hi] stretched to [0, 255]. */
export function autocontrast(img: Image8): Image8 {
  const luts: Uint8Array[] = [];
  for (let ch = 0; ch < img.channels; ch++) {
    const h = histogram(img, ch);
    let lo = 0, hi = 255;
    while (lo < 255 && !h[lo]) lo++;
    while (hi > 0 && !h[hi]) hi--;
    if (hi <= lo) luts.push(lutOf((i) => i));
    else {
      const scale = 255 / (hi - lo), offset = -lo * scale;
      luts.push(lutOf((i) => Math.trunc(i * scale + offset)));
    }
  }
  return applyLut(img, luts);
}

/** ImageOps.equalize: each channel's histogram equalised with PIL's integer steps. */
export function equalize(img: Image8): Image8 {
  const luts: Uint8Array[] = [];
  for (let ch = 0; ch < img.channels; ch++) {
    const h = histogram(img, ch);
    let total = 0, last = 0, nonzero = 0;
    for (let i = 0; i < 256; i++)
      if (h[i]) {
        total += h[i];
        last = h[i];
        nonzero++;
      }
    const step = Math.floor((total - last) / 255);
    if (nonzero <= 1 || step === 0) {
      luts.push(lutOf((i) => i));
      continue;
    }
    const t = new Uint8Array(256);
    for (let i = 0, n = Math.floor(step / 2); i < 256; i++) {
      t[i] = Math.min(255, Math.floor(n / step));
      n += h[i];
    }
    luts.push(t);
  }
  return applyLut(img, luts);
}

/** ITU-R 601 luma of each pixel, as PIL's convert('L'); a 1-channel image is its own. */
function grey(img: Image8): Uint8Array {
  if (img.channels === 1) return img.data;
  const n = img.width * img.height, d = img.data, out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (d[3 * i] * 19595 + d[3 * i + 1] * 38470 + d[3 * i + 2] * 7471 + 0x8000) >>> 16;
  return out;
}

/** Image.blend(a, b, alpha) = a + alpha (b - a) in float32, truncated (clipped when extrapolating). */
export function blend(a: Uint8Array, b: Uint8Array, alpha: number): Uint8Array {
  const f = Math.fround(alpha);
  if (f === 0) return a.slice();
  if (f === 1) return b.slice();
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) {
    const t = Math.fround(a[i] + Math.fround(f * (b[i] - a[i])));
    out[i] = t <= 0 ? 0 : t >= 255 ? 255 : Math.trunc(t);
  }
  return out;
}

/** Every channel of every pixel from a per-pixel grey value. */
function spread(g: Uint8Array, c: number): Uint8Array {
  if (c === 1) return g;
  const out = new Uint8Array(g.length * c);
  for (let i = 0; i < g.length; i++) for (let ch = 0; ch < c; ch++) out[i * c + ch] = g[i];
  return out;
}

/** ImageEnhance.Color: blend with the grey image. */
export const color = (img: Image8, factor: number): Image8 => ({ ...img, data: blend(spread(grey(img), img.channels), img.data, factor) });

/** ImageEnhance.Contrast: blend with the mean grey level, int(mean + 0.5). */
export function contrast(img: Image8, factor: number): Image8 {
  const g = grey(img);
  let sum = 0;
  for (let i = 0; i < g.length; i++) sum += g[i];
  const mean = Math.trunc(sum / g.length + 0.5);
  return { ...img, data: blend(new Uint8Array(img.data.length).fill(mean), img.data, factor) };
}

/** ImageEnhance.Brightness: blend with black. */
export const brightness = (img: Image8, factor: number): Image8 => ({ ...img, data: blend(new Uint8Array(img.data.length), img.data, factor) });

/** PIL's SMOOTH filter (3x3, weights 1 1 1 / 1 5 1 / 1 1 1, / 13) in float32; border pixels kept. */
export function smooth(img: Image8): Uint8Array {
  const { width: w, height: h, channels: c, data } = img, out = data.slice();
  const k1 = Math.fround(1 / 13), k5 = Math.fround(5 / 13), f = Math.fround;
  const row3 = (p: number, km: number) => f(f(f(data[p - c] * k1) + f(data[p] * km)) + f(data[p + c] * k1));
  for (let y = 1; y < h - 1; y++)
    for (let x = 1; x < w - 1; x++)
      for (let ch = 0; ch < c; ch++) {
        const p = (y * w + x) * c + ch;
        let ss = f(0.5);
        ss = f(ss + row3(p + w * c, k1));
        ss = f(ss + row3(p, k5));
        ss = f(ss + row3(p - w * c, k1));
        out[p] = ss <= 0 ? 0 : ss >= 255 ? 255 : Math.trunc(ss);
      }
  return out;
}

/** ImageEnhance.Sharpness: blend with the smoothed image. */
export const sharpness = (img: Image8, factor: number): Image8 => ({ ...img, data: blend(smooth(img), img.data, factor) });
