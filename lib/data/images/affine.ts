// PIL's Image.transform(AFFINE) with bilinear or bicubic sampling and a fill colour
// (libImaging/Geometry.c, ImagingGenericTransform), to the same bytes, and the matrices of
// rotate / shear / translate as PIL and timm build them. Output pixel (x, y) samples the input
// at (a0 (x + .5) + a1 (y + .5) + a2, a3 (x + .5) + a4 (y + .5) + a5); outside the input it
// keeps the fill.
import type { Interpolation } from './resample';
import { newImage, round15, type Image8 } from './image';

export type Affine = [number, number, number, number, number, number];

const clampI = (v: number, n: number) => (v < 0 ? 0 : v < n ? v : n - 1);

function bilinearAt(img: Image8, xin: number, yin: number, out: Uint8Array, o: number): void {
  const { width: W, height: H, channels: c, data } = img;
  xin -= 0.5;
  yin -= 0.5;
  const x = Math.floor(xin), y = Math.floor(yin), dx = xin - x, dy = yin - y;
  const x0 = clampI(x, W) * c, x1 = clampI(x + 1, W) * c, r0 = clampI(y, H) * W * c, hasR1 = y + 1 >= 0 && y + 1 < H;
  for (let ch = 0; ch < c; ch++) {
    const a = data[r0 + x0 + ch];
    let v1 = a + (data[r0 + x1 + ch] - a) * dx, v2 = v1;
    if (hasR1) {
      const b = data[(y + 1) * W * c + x0 + ch];
      v2 = b + (data[(y + 1) * W * c + x1 + ch] - b) * dx;
    }
    out[o + ch] = Math.trunc(v1 + (v2 - v1) * dy);
  }
}

function cubic(v1: number, v2: number, v3: number, v4: number, d: number): number {
  const p1 = v2, p2 = -v1 + v3, p3 = 2 * (v1 - v2) + v3 - v4, p4 = -v1 + v2 - v3 + v4;
  return p1 + d * (p2 + d * (p3 + d * p4));
}

function bicubicAt(img: Image8, xin: number, yin: number, out: Uint8Array, o: number): void {
  const { width: W, height: H, channels: c, data } = img;
  xin -= 0.5;
  yin -= 0.5;
  let x = Math.floor(xin), y = Math.floor(yin);
  const dx = xin - x, dy = yin - y;
  x--;
  y--;
  const xs = [clampI(x, W) * c, clampI(x + 1, W) * c, clampI(x + 2, W) * c, clampI(x + 3, W) * c];
  for (let ch = 0; ch < c; ch++) {
    const rowAt = (r: number) => {
      const b = r * W * c + ch;
      return cubic(data[b + xs[0]], data[b + xs[1]], data[b + xs[2]], data[b + xs[3]], dx);
    };
    const v1 = rowAt(clampI(y, H));
    const v2 = y + 1 >= 0 && y + 1 < H ? rowAt(y + 1) : v1;
    const v3 = y + 2 >= 0 && y + 2 < H ? rowAt(y + 2) : v2;
    const v4 = y + 3 >= 0 && y + 3 < H ? rowAt(y + 3) : v3;
    const v = cubic(v1, v2, v3, v4, dy);
    out[o + ch] = v <= 0 ? 0 : v >= 255 ? 255 : Math.trunc(v);
  }
}

/** img.transform(img.size, Image.AFFINE, a, resample, fillcolor=fill). */
export function affine(img: Image8, a: Affine, interp: Interpolation, fill: readonly number[]): Image8 {
  const { width: W, height: H, channels: c } = img, out = newImage(W, H, c), d = out.data;
  for (let i = 0; i < d.length; i += c) for (let ch = 0; ch < c; ch++) d[i + ch] = fill[Math.min(ch, fill.length - 1)];
  const sample = interp === 'bilinear' ? bilinearAt : bicubicAt;
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const xi = x + 0.5, yi = y + 0.5;
      const xx = a[0] * xi + a[1] * yi + a[2], yy = a[3] * xi + a[4] * yi + a[5];
      if (xx < 0 || xx >= W || yy < 0 || yy >= H) continue;
      sample(img, xx, yy, d, (y * W + x) * c);
    }
  return out;
}

/** PIL's transpose for rotations by 90, 180 and 270 degrees anticlockwise (exact). */
function quarterTurns(img: Image8, turns: 1 | 2 | 3): Image8 {
  const { width: W, height: H, channels: c, data } = img;
  const outW = turns === 2 ? W : H, outH = turns === 2 ? H : W, out = newImage(outW, outH, c);
  for (let y = 0; y < outH; y++)
    for (let x = 0; x < outW; x++) {
      const [sx, sy] = turns === 1 ? [W - 1 - y, x] : turns === 2 ? [W - 1 - x, H - 1 - y] : [y, H - 1 - x];
      for (let ch = 0; ch < c; ch++) out.data[(y * outW + x) * c + ch] = data[(sy * W + sx) * c + ch];
    }
  return out;
}

/** Image.rotate(degrees, resample, fillcolor=fill) about the centre, same size (anticlockwise for positive degrees). */
export function rotate(img: Image8, degrees: number, interp: Interpolation, fill: readonly number[]): Image8 {
  const angle = ((degrees % 360) + 360) % 360;
  if (angle === 0) return { ...img, data: img.data.slice() };
  if (angle === 180) return quarterTurns(img, 2);
  if ((angle === 90 || angle === 270) && img.width === img.height) return quarterTurns(img, angle === 90 ? 1 : 3);
  const w = img.width, h = img.height, cx = w / 2, cy = h / 2, r = -(angle * (Math.PI / 180));
  const m: Affine = [round15(Math.cos(r)), round15(Math.sin(r)), 0, round15(-Math.sin(r)), round15(Math.cos(r)), 0];
  m[2] = m[0] * -cx + m[1] * -cy + m[2] + cx;
  m[5] = m[3] * -cx + m[4] * -cy + m[5] + cy;
  return affine(img, m, interp, fill);
}

export const shearX = (img: Image8, f: number, interp: Interpolation, fill: readonly number[]) => affine(img, [1, f, 0, 0, 1, 0], interp, fill);
export const shearY = (img: Image8, f: number, interp: Interpolation, fill: readonly number[]) => affine(img, [1, 0, 0, f, 1, 0], interp, fill);
/** Shifts the content left by px (the matrix's translation; timm's translate_x_*). */
export const translateX = (img: Image8, px: number, interp: Interpolation, fill: readonly number[]) => affine(img, [1, 0, px, 0, 1, 0], interp, fill);
export const translateY = (img: Image8, py: number, interp: Interpolation, fill: readonly number[]) => affine(img, [1, 0, 0, 0, 1, py], interp, fill);
