// Resizing as PIL's Image.resize does it (libImaging/Resample.c), to the same bytes: antialiased
// separable filters (bilinear: triangle, support 1; bicubic: a = -0.5, support 2) widened by the
// downscale factor, coefficients normalised and rounded to 22-bit fixed point, a horizontal
// pass into 8 bits, then a vertical pass. torchvision's resize of a PIL image calls it.
import type { Image8 } from './image';

export type Interpolation = 'bilinear' | 'bicubic';

const PRECISION_BITS = 22;
const HALF = 1 << (PRECISION_BITS - 1);

function bilinear(x: number): number {
  if (x < 0) x = -x;
  return x < 1 ? 1 - x : 0;
}

function bicubic(x: number): number {
  const a = -0.5;
  if (x < 0) x = -x;
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

/** Per output pixel along one axis: first source index, tap count, and fixed-point taps (ksize each). */
export interface Coefficients {
  ksize: number;
  /** (outSize, 2): first source index, number of taps */
  bounds: Int32Array;
  /** (outSize, ksize) */
  kk: Int32Array;
}

/** PIL's precompute_coeffs + normalize_coeffs_8bpc for source [in0, in1) of inSize onto outSize pixels. */
export function coefficients(inSize: number, in0: number, in1: number, outSize: number, interp: Interpolation): Coefficients {
  const filter = interp === 'bilinear' ? bilinear : bicubic;
  const scale = (in1 - in0) / outSize, filterscale = Math.max(scale, 1);
  const support = (interp === 'bilinear' ? 1 : 2) * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2), kk = new Int32Array(outSize * ksize), k = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = in0 + (xx + 0.5) * scale, ss = 1 / filterscale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) ww += k[x] = filter((x + xmin - center + 0.5) * ss);
    for (let x = 0; x < xmax; x++) {
      const w = ww !== 0 ? k[x] / ww : k[x];
      kk[xx * ksize + x] = Math.trunc(w < 0 ? -0.5 + w * (1 << PRECISION_BITS) : 0.5 + w * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = Math.max(xmax, 0);
  }
  return { ksize, bounds, kk };
}

function clip8(ss: number): number {
  const v = ss >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/**
 * Horizontal pass over source rows [y0, y1) of an image whose rows start at source column ox:
 * (y1 - y0, cols, c), output column xx from coefficient col0 + xx (mirrored when flip).
 */
function horizontal(src: Image8, y0: number, y1: number, cx: Coefficients, col0: number, cols: number, flip: boolean): Uint8Array {
  const c = src.channels, W = src.width, d = src.data, out = new Uint8Array((y1 - y0) * cols * c);
  const { ksize, bounds, kk } = cx;
  // per output column: its first source pixel (offset in a row), tap count, first tap, output offset
  const first = new Int32Array(cols), taps = new Int32Array(cols), k0s = new Int32Array(cols), outs = new Int32Array(cols);
  for (let xx = 0; xx < cols; xx++) {
    first[xx] = bounds[(col0 + xx) * 2] * c;
    taps[xx] = bounds[(col0 + xx) * 2 + 1];
    k0s[xx] = (col0 + xx) * ksize;
    outs[xx] = (flip ? cols - 1 - xx : xx) * c;
  }
  for (let y = y0; y < y1; y++) {
    const row = y * W * c, orow = (y - y0) * cols * c;
    for (let xx = 0; xx < cols; xx++) {
      const n = taps[xx], k0 = k0s[xx], o = orow + outs[xx];
      let p = row + first[xx];
      if (c === 3) {
        let s0 = HALF, s1 = HALF, s2 = HALF;
        for (let x = 0; x < n; x++, p += 3) {
          const k = kk[k0 + x];
          s0 = (s0 + Math.imul(d[p], k)) | 0;
          s1 = (s1 + Math.imul(d[p + 1], k)) | 0;
          s2 = (s2 + Math.imul(d[p + 2], k)) | 0;
        }
        out[o] = clip8(s0);
        out[o + 1] = clip8(s1);
        out[o + 2] = clip8(s2);
      } else
        for (let ch = 0; ch < c; ch++) {
          let ss = HALF;
          for (let x = 0, q = p + ch; x < n; x++, q += c) ss = (ss + Math.imul(d[q], kk[k0 + x])) | 0;
          out[o + ch] = clip8(ss);
        }
    }
  }
  return out;
}

/** Vertical pass: rows of tmp (starting at source row y0, cols wide) onto output rows [row0, row0 + rows). */
function vertical(tmp: Uint8Array, y0: number, cols: number, c: number, cy: Coefficients, row0: number, rows: number): Uint8Array {
  const out = new Uint8Array(rows * cols * c), { ksize, bounds, kk } = cy, stride = cols * c;
  for (let yy = 0; yy < rows; yy++) {
    const b = (row0 + yy) * 2, ymin = bounds[b] - y0, n = bounds[b + 1], k0 = (row0 + yy) * ksize, o = yy * stride;
    const acc = new Int32Array(stride).fill(HALF);
    for (let y = 0; y < n; y++) {
      const k = kk[k0 + y], p = (ymin + y) * stride;
      for (let i = 0; i < stride; i++) acc[i] = (acc[i] + Math.imul(tmp[p + i], k)) | 0;
    }
    for (let i = 0; i < stride; i++) out[o + i] = clip8(acc[i]);
  }
  return out;
}

/** Output window of a resize: x0, y0, width, height (the whole output by default). */
export type Window = [number, number, number, number];

/**
 * PIL's img.resize((outW, outH), filter, box) of an (h, w, c) image, box = [left, top, right,
 * bottom] in source pixels (default the whole image), computing only `window` of the output
 * (the same bytes as resizing and then cropping it), mirrored left to right when `flip`
 * (the same bytes as flipping the result).
 */
export function resize(
  src: Image8, outW: number, outH: number, interp: Interpolation, box?: [number, number, number, number], window?: Window, flip = false,
): Image8 {
  const [l, t, r, b] = box ?? [0, 0, src.width, src.height];
  const [x0, y0, ww, wh] = window ?? [0, 0, outW, outH];
  const c = src.channels;
  if (outW === src.width && outH === src.height && l === 0 && t === 0 && r === src.width && b === src.height && !flip) {
    const data = new Uint8Array(ww * wh * c);
    for (let y = 0; y < wh; y++) data.set(src.data.subarray(((y0 + y) * src.width + x0) * c, ((y0 + y) * src.width + x0 + ww) * c), y * ww * c);
    return { data, width: ww, height: wh, channels: c };
  }
  const needH = outW !== src.width || l !== 0 || r !== outW || flip, needV = outH !== src.height || t !== 0 || b !== outH;
  const cy = coefficients(src.height, t, b, outH, interp);
  // the source rows the window's output rows read
  const first = cy.bounds[y0 * 2], last = cy.bounds[(y0 + wh - 1) * 2] + cy.bounds[(y0 + wh - 1) * 2 + 1];
  let tmp: Uint8Array, cols: number, rowBase: number;
  if (needH) {
    tmp = horizontal(src, first, last, coefficients(src.width, l, r, outW, interp), x0, ww, flip);
    cols = ww;
    rowBase = first;
  } else {
    tmp = src.data;
    cols = src.width;
    rowBase = 0;
  }
  if (!needV) {
    const data = new Uint8Array(ww * wh * c);
    for (let y = 0; y < wh; y++) {
      const s = ((y0 + y - rowBase) * cols + (needH ? 0 : x0)) * c;
      data.set(tmp.subarray(s, s + ww * c), y * ww * c);
    }
    return { data, width: ww, height: wh, channels: c };
  }
  let data = vertical(tmp, rowBase, cols, c, cy, y0, wh);
  if (!needH && (x0 !== 0 || ww !== cols)) {
    const cut = new Uint8Array(ww * wh * c);
    for (let y = 0; y < wh; y++) cut.set(data.subarray((y * cols + x0) * c, (y * cols + x0 + ww) * c), y * ww * c);
    data = cut;
  }
  return { data, width: ww, height: wh, channels: c };
}
