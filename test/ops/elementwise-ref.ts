// Float64 references for the elementwise and reduction tests: a precise erf / erfc,
// broadcasting binary ops and sums over dimensions, written as plain loops.

/** erf(z) for |z| < 2.5: 2/sqrt(pi) * exp(-z^2) * sum_n 2^n z^(2n+1) / (2n+1)!! (positive terms, no cancellation). */
function erfSeries(z: number): number {
  let t = z, s = z;
  for (let n = 1; Math.abs(t) > 1e-17 * Math.abs(s); n++) {
    t *= (2 * z * z) / (2 * n + 1);
    s += t;
  }
  return (2 / Math.sqrt(Math.PI)) * Math.exp(-z * z) * s;
}

/** erfc(z) for z >= 2.5: the continued fraction exp(-z^2)/sqrt(pi) / (z + (1/2)/(z + 1/(z + (3/2)/(z + ...)))). */
function erfcFraction(z: number): number {
  let f = z;
  for (let k = 200; k >= 1; k--) f = z + k / 2 / f;
  return Math.exp(-z * z) / (Math.sqrt(Math.PI) * f);
}

/** The complementary error function, accurate to ~1e-15 relative (absolute below 2.5). */
export function erfc(z: number): number {
  if (z < 0) return 2 - erfc(-z);
  return z < 2.5 ? 1 - erfSeries(z) : erfcFraction(z);
}

export function erf(z: number): number {
  if (Math.abs(z) < 2.5) return z === 0 ? 0 : erfSeries(z);
  return z > 0 ? 1 - erfcFraction(z) : erfcFraction(-z) - 1;
}

/** GELU, exact: x * Phi(x) with Phi(x) = erfc(-x / sqrt(2)) / 2. */
export function geluRef(x: number): number {
  return 0.5 * x * erfc(-x / Math.SQRT2);
}

export function sigmoidRef(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const nd = Math.max(a.length, b.length);
  return Array.from({ length: nd }, (_, i) => {
    const da = a[a.length - nd + i] ?? 1, db = b[b.length - nd + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error('shapes do not broadcast');
    return da === 1 ? db : da;
  });
}

// The flat index into x (shape xs, broadcast to out shape os) of the out multi-index idx.
function broadcastIndex(idx: number[], os: readonly number[], xs: readonly number[]): number {
  const lead = os.length - xs.length;
  let k = 0;
  for (let d = 0; d < xs.length; d++) k = k * xs[d] + (xs[d] === 1 ? 0 : idx[d + lead]);
  return k;
}

function multiIndex(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return idx;
}

/** f(a, b) elementwise with PyTorch broadcasting, in float64. */
export function binaryRef(
  as: readonly number[], bs: readonly number[], a: Float64Array, b: Float64Array, f: (x: number, y: number) => number,
): Float64Array {
  const os = broadcastShape(as, bs);
  const out = new Float64Array(numel(os));
  for (let i = 0; i < out.length; i++) {
    const idx = multiIndex(i, os);
    out[i] = f(a[broadcastIndex(idx, os, as)], b[broadcastIndex(idx, os, bs)]);
  }
  return out;
}

/** x (shape xs) broadcast to shape os, in float64. */
export function expandRef(xs: readonly number[], os: readonly number[], x: Float64Array): Float64Array {
  const out = new Float64Array(numel(os));
  for (let i = 0; i < out.length; i++) out[i] = x[broadcastIndex(multiIndex(i, os), os, xs)];
  return out;
}

/** Sums x (shape xs) over `dims` (keepDim layout = xs with 1 there), in float64; scale multiplies the sums. */
export function sumRef(xs: readonly number[], x: Float64Array, dims: readonly number[], scale = 1): Float64Array {
  const ks = xs.map((d, i) => (dims.includes(i) ? 1 : d));
  const out = new Float64Array(numel(ks));
  for (let i = 0; i < x.length; i++) out[broadcastIndex(multiIndex(i, xs), xs, ks)] += x[i];
  return out.map((v) => v * scale);
}
