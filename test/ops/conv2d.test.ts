import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { conv2d, full, scope, tensor, zeros, Rng, type Conv2dOptions } from '../../lib/index';
import { native, type Conv2dShape, type NativeStorage } from '../../lib/native';
import { assertClose, assertThrows, DEVICE, fixture, fromHost, gradcheck, randomInput } from '../helpers';
import { assertMatchesTorch, assertNoLeakInScope, onesOn, randomTensors } from './harness';

const golden = fixture('conv2d');

// ---- float64 reference: a direct loop over every output and its window ----

interface Spec {
  N: number; Cin: number; H: number; W: number; Cout: number; kh: number; kw: number;
  sh: number; sw: number; ph: number; pw: number; groups: number;
}

function refConv2d(s: Spec, x: Float64Array, w: Float64Array, b: Float64Array | null): Float64Array {
  const Ho = Math.floor((s.H + 2 * s.ph - s.kh) / s.sh) + 1, Wo = Math.floor((s.W + 2 * s.pw - s.kw) / s.sw) + 1;
  const Cig = s.Cin / s.groups, Cog = s.Cout / s.groups;
  const y = new Float64Array(s.N * s.Cout * Ho * Wo);
  for (let n = 0; n < s.N; n++)
    for (let co = 0; co < s.Cout; co++) {
      const g = Math.floor(co / Cog);
      for (let ho = 0; ho < Ho; ho++)
        for (let wo = 0; wo < Wo; wo++) {
          let acc = b ? b[co] : 0;
          for (let ci = 0; ci < Cig; ci++)
            for (let i = 0; i < s.kh; i++)
              for (let j = 0; j < s.kw; j++) {
                const hi = ho * s.sh - s.ph + i, wi = wo * s.sw - s.pw + j;
                if (hi < 0 || hi >= s.H || wi < 0 || wi >= s.W) continue;
                acc += w[((co * Cig + ci) * s.kh + i) * s.kw + j] * x[((n * s.Cin + g * Cig + ci) * s.H + hi) * s.W + wi];
              }
          y[((n * s.Cout + co) * Ho + ho) * Wo + wo] = acc;
        }
    }
  return y;
}

function spec(x: number[], w: number[], o: { stride?: number | [number, number]; padding?: number | [number, number]; groups?: number }): Spec {
  const [sh, sw] = typeof o.stride === 'object' ? o.stride : [o.stride ?? 1, o.stride ?? 1];
  const [ph, pw] = typeof o.padding === 'object' ? o.padding : [o.padding ?? 0, o.padding ?? 0];
  return { N: x[0], Cin: x[1], H: x[2], W: x[3], Cout: w[0], kh: w[2], kw: w[3], sh, sw, ph, pw, groups: o.groups ?? 1 };
}

// ---- PyTorch goldens ----

const cases: [string, Conv2dOptions, boolean][] = [
  ['patch', { stride: 4 }, false],
  ['embed', { stride: 2 }, false],
  ['dw1', { padding: 0, groups: 4 }, false],
  ['dw3', { padding: 1, groups: 4 }, false],
  ['dw5', { padding: 2, groups: 4 }, false],
  ['grouped', { stride: 2, padding: 1, groups: 2 }, true],
  ['identity', { padding: 1, groups: 4 }, false],
];

for (const [name, opts, hasBias] of cases) {
  test(`conv2d ${name}: forward, dx, dweight${hasBias ? ', dbias' : ''} match PyTorch`, () => {
    assertMatchesTorch({ golden, prefix: name, name: `conv2d ${name}`, seed: 'g', grads: { x: 'dx', w: ['dw', 'dweight'], ...(hasBias ? { b: ['db', 'dbias'] } : {}) } },
      ({ x, w, b }) => conv2d(x, w, b ?? null, opts));
  });
}

test('conv2d identity batch: the output is exactly the depthwise kernel laid out per position', () => {
  // Locality Injection reads the kernel back out of this conv, so it must be exact.
  const x = fromHost(golden('identity.x'));
  const w = fromHost(golden('identity.w'));
  const y = conv2d(x, w, null, { padding: 1, groups: 4 });
  const got = y.toFloat32Array(), want = Float32Array.from(golden('identity.y').data as Float32Array);
  assert.equal(Array.from(got), Array.from(want), 'bit-exact identity-batch convolution');
  // Spot check: image b = (r, c) holds the kernel tap (r - ho + 1, c - wo + 1) at (ho, wo).
  const wv = w.toFloat32Array(), [hw, S, h, wd] = x.shape;
  for (let b = 0; b < hw; b++)
    for (let s = 0; s < S; s++)
      for (let ho = 0; ho < h; ho++)
        for (let wo = 0; wo < wd; wo++) {
          const i = Math.floor(b / wd) - ho + 1, j = (b % wd) - wo + 1;
          const expect = i >= 0 && i < 3 && j >= 0 && j < 3 ? wv[s * 9 + i * 3 + j] : 0;
          assert.is(got[((b * S + s) * h + ho) * wd + wo], expect);
        }
  for (const t of [x, w, y]) t.dispose();
});

// ---- float64 reference and finite differences ----

const gradCases: [string, number[], number[], boolean, { stride?: number | [number, number]; padding?: number | [number, number]; groups?: number }][] = [
  ['dense 3x3, stride [2, 1], padding [1, 2], bias', [2, 3, 5, 6], [4, 3, 3, 3], true, { stride: [2, 1], padding: [1, 2] }],
  ['depthwise 3x3, stride 2, padding 1, bias', [2, 3, 6, 7], [3, 1, 3, 3], true, { stride: 2, padding: 1, groups: 3 }],
  ['depthwise 5x5 on a 3x2 map', [3, 2, 3, 2], [2, 1, 5, 5], false, { padding: 2, groups: 2 }],
  // Maps wider than 32 columns take the row-by-row depthwise kernel, narrower ones the flat one.
  ['depthwise 3x3 on a 3x37 map (row kernel)', [2, 2, 3, 37], [2, 1, 3, 3], true, { padding: 1, groups: 2 }],
  ['depthwise 3x3, padding [2, 0], on a 5x6 map (flat kernel)', [2, 2, 5, 6], [2, 1, 3, 3], false, { padding: [2, 0], groups: 2 }],
  // The flat kernels' sixteen-float runs over whole planes, as RepMLP's conv branches use them.
  ['depthwise 3x3 on 16x16 planes (flat kernel)', [2, 3, 16, 16], [3, 1, 3, 3], false, { padding: 1, groups: 3 }],
  // padding >= kernel: the input gradient is not a rotated flat forward, so it runs row by row
  ['depthwise 1x1 with padding 1 on a 4x5 map', [2, 2, 4, 5], [2, 1, 1, 1], true, { padding: 1, groups: 2 }],
  ['depthwise [1, 3] kernel, stride [1, 2]', [2, 2, 4, 7], [2, 1, 1, 3], false, { stride: [1, 2], padding: [0, 1], groups: 2 }],
  ['channel multiplier 2 (groups = Cin)', [2, 2, 5, 5], [4, 1, 3, 3], false, { padding: 1, groups: 2 }],
  ['pointwise 1x1 with bias', [2, 5, 3, 4], [3, 5, 1, 1], true, {}],
  ['1x1 stride 2', [1, 3, 5, 5], [2, 3, 1, 1], false, { stride: 2 }],
  ['wide 3x3 (K = 180 > block, several tiles)', [1, 20, 14, 15], [2, 20, 3, 3], true, { padding: 1 }],
];

for (const [name, xs, ws, hasBias, opts] of gradCases) {
  test(`conv2d ${name}: float64 reference and finite differences`, () => {
    const rng = new Rng(11);
    const s = spec(xs, ws, opts);
    const inputs = [randomInput(xs, rng), randomInput(ws, rng, 0.5)];
    if (hasBias) inputs.push(randomInput([ws[0]], rng));
    gradcheck({
      name: `conv2d ${name}`,
      rng,
      inputs,
      samples: 24,
      op: ([x, w, b]) => conv2d(x, w, b ?? null, opts),
      ref: ([x, w, b]) => refConv2d(s, x, w, b ?? null),
    });
  });
}

test('conv2d: non-contiguous input (a permuted view)', () => {
  const rng = new Rng(5);
  const xi = randomInput([2, 3, 4, 5], rng, 1, false), wi = randomInput([2, 3, 3, 3], rng, 1, false);
  // x stored as (N, H, W, C), viewed as (N, C, H, W)
  const nhwc = new Float32Array(xi.data.length);
  for (let n = 0; n < 2; n++)
    for (let c = 0; c < 3; c++)
      for (let h = 0; h < 4; h++) for (let w = 0; w < 5; w++) nhwc[((n * 4 + h) * 5 + w) * 3 + c] = xi.data[((n * 3 + c) * 4 + h) * 5 + w];
  const xt = tensor(nhwc, [2, 4, 5, 3], { device: DEVICE });
  const w = tensor(Float32Array.from(wi.data), [2, 3, 3, 3], { device: DEVICE });
  const y = conv2d(xt.permute(0, 3, 1, 2), w, null, { padding: 1 });
  assertClose('conv2d of a permuted view', y, refConv2d(spec([2, 3, 4, 5], [2, 3, 3, 3], { padding: 1 }), xi.data, wi.data, null));
  for (const t of [xt, w, y]) t.dispose();
});

test('conv2d: computes only the gradients asked for', () => {
  const rng = new Rng(9);
  const mk = (shape: number[], grad: boolean) => {
    const t = tensor(Float32Array.from(randomInput(shape, rng).data), shape, { device: DEVICE });
    return grad ? t.requiresGrad_() : t;
  };
  const g = full([2, 4, 3, 3], 1, { device: DEVICE });
  // only dx
  let x = mk([2, 3, 5, 5], true), w = mk([4, 3, 3, 3], false), b = mk([4], false);
  conv2d(x, w, b).backward(g);
  assert.ok(x.grad && !w.grad && !b.grad);
  for (const t of [x, w, b]) t.dispose();
  // only dweight and dbias
  x = mk([2, 3, 5, 5], false); w = mk([4, 3, 3, 3], true); b = mk([4], true);
  conv2d(x, w, b).backward(g);
  assert.ok(!x.grad && w.grad && b.grad);
  // dbias = sum of the output gradient per channel = N * Ho * Wo
  assertClose('conv2d dbias of ones', b.grad!, [18, 18, 18, 18]);
  for (const t of [x, w, b, g]) t.dispose();
});

test('conv2d kernels: gradients overwrite, null skips, results do not depend on the thread count', () => {
  const rng = new Rng(21);
  const s = spec([3, 6, 9, 8], [4, 3, 3, 3], { padding: 1, stride: [1, 2], groups: 2 });
  const dws = spec([9, 4, 6, 7], [4, 1, 3, 3], { padding: 1, groups: 4 });
  for (const sp of [s, dws]) {
    const Ho = Math.floor((sp.H + 2 * sp.ph - sp.kh) / sp.sh) + 1, Wo = Math.floor((sp.W + 2 * sp.pw - sp.kw) / sp.sw) + 1;
    const host = (shape: number[]) => tensor(Float32Array.from(randomInput(shape, rng).data), shape, { device: DEVICE });
    const x = host([sp.N, sp.Cin, sp.H, sp.W]), w = host([sp.Cout, sp.Cin / sp.groups, sp.kh, sp.kw]);
    const dy = host([sp.N, sp.Cout, Ho, Wo]);
    const shape = { N: sp.N, Cin: sp.Cin, H: sp.H, W: sp.W, Cout: sp.Cout, kh: sp.kh, kw: sp.kw, strideH: sp.sh, strideW: sp.sw, padH: sp.ph, padW: sp.pw, groups: sp.groups };
    const run = (threads: number) => {
      const prev = native.runtimeInfo().threads;
      native.setNumThreads(threads);
      try {
        const dx = full(x.shape, 7, { device: DEVICE }), dw = full(w.shape, 7, { device: DEVICE }), db = full([sp.Cout], 7, { device: DEVICE });
        native.conv2d_backward({ dinp: dx.storage, dweight: dw.storage, dbias: db.storage, dout: dy.storage, inp: x.storage, weight: w.storage, ...shape });
        const r = [dx.toFloat32Array(), dw.toFloat32Array(), db.toFloat32Array()];
        for (const t of [dx, dw, db]) t.dispose();
        return r;
      } finally {
        native.setNumThreads(prev);
      }
    };
    const one = run(1), two = run(2), three = run(3);
    for (let k = 0; k < 3; k++) {
      assert.equal(Array.from(two[k]), Array.from(one[k]), `gradient ${k} with 2 threads vs 1`);
      assert.equal(Array.from(three[k]), Array.from(one[k]), `gradient ${k} with 3 threads vs 1`);
    }
    // dweight alone, with neither dinp nor weight: same values as before (overwritten, not accumulated)
    const dw = full(w.shape, 7, { device: DEVICE });
    native.conv2d_backward({ dinp: null, dweight: dw.storage, dbias: null, dout: dy.storage, inp: x.storage, weight: null, ...shape });
    assert.equal(Array.from(dw.toFloat32Array()), Array.from(one[1]));
    // and against the float64 reference: dW = sum over outputs of dy * x
    const xd = Float64Array.from(x.toFloat32Array()), dyd = dy.toFloat32Array();
    const ref = new Float64Array(dw.numel);
    for (let k = 0; k < ref.length; k++) {
      const wk = new Float64Array(ref.length);
      wk[k] = 1;
      const y = refConv2d(sp, xd, wk, null);
      for (let i = 0; i < y.length; i++) ref[k] += y[i] * dyd[i];
    }
    assertClose('conv2d dweight (kernel call) vs float64', dw, ref);
    for (const t of [x, w, dy, dw]) t.dispose();
  }
});

// ---- errors ----

test('conv2d: rejects bad arguments with clear messages', () => {
  scope(() => {
    const x = zeros([2, 6, 5, 5], { device: DEVICE });
    const w = zeros([8, 6, 3, 3], { device: DEVICE });
    assertThrows(() => conv2d(null as never, w), /conv2d: expected a Tensor for x but received null/);
    assertThrows(() => conv2d(zeros([6, 5, 5], { device: DEVICE }), w), /conv2d: expected a 4-d tensor for x but received shape \(6, 5, 5\)/);
    assertThrows(() => conv2d(x, zeros([8, 6, 3], { device: DEVICE })), /conv2d: expected a 4-d tensor for weight but received shape \(8, 6, 3\)/);
    assertThrows(() => conv2d(x, zeros([8, 4, 3, 3], { device: DEVICE })), /conv2d: expected shape \(8, 6, 3, 3\) \(x has 6 channels in 1 group\) for weight but received shape \(8, 4, 3, 3\)/);
    assertThrows(() => conv2d(x, zeros([8, 6, 3, 3], { device: DEVICE }), null, { groups: 2 }), /conv2d: expected shape \(8, 3, 3, 3\) \(x has 6 channels in 2 groups\) for weight but received shape \(8, 6, 3, 3\)/);
    assertThrows(() => conv2d(x, zeros([8, 1, 3, 3], { device: DEVICE }), null, { groups: 4 }), /conv2d: expected channels 6 divisible by groups 4 for x but received shape \(2, 6, 5, 5\)/);
    assertThrows(() => conv2d(x, zeros([8, 2, 3, 3], { device: DEVICE }), null, { groups: 3 }), /conv2d: expected output channels 8 divisible by groups 3 for weight but received shape \(8, 2, 3, 3\)/);
    assertThrows(() => conv2d(x, w, zeros([4], { device: DEVICE })), /conv2d: expected shape \(8\) for bias but received shape \(4\)/);
    assertThrows(() => conv2d(x, w, zeros([8, 1], { device: DEVICE })), /conv2d: expected a 1-d tensor for bias but received shape \(8, 1\)/);
    assertThrows(() => conv2d(x, zeros([8, 6, 7, 3], { device: DEVICE })), /conv2d: expected a kernel no larger than the padded input 5 x 5 for weight but received shape \(8, 6, 7, 3\)/);
    assertThrows(() => conv2d(x, w, null, { stride: 0 }), /conv2d: expected an integer >= 1 or a pair \[h, w\] of them for stride but received 0/);
    assertThrows(() => conv2d(x, w, null, { stride: [1, 2, 3] as never }), /conv2d: expected an integer >= 1 or a pair \[h, w\] of them for stride but received \[1, 2, 3\]/);
    assertThrows(() => conv2d(x, w, null, { padding: -1 }), /conv2d: expected an integer >= 0 or a pair \[h, w\] of them for padding but received -1/);
    assertThrows(() => conv2d(x, w, null, { padding: [1, 0.5] }), /conv2d: expected an integer >= 0 or a pair \[h, w\] of them for padding but received \[1, 0.5\]/);
    assertThrows(() => conv2d(x, w, null, { groups: 0 }), /conv2d: expected an integer >= 1 for groups but received 0/);
    assertThrows(() => conv2d(x, tensor(BigInt64Array.from({ length: 8 * 54 }, () => 0n), [8, 6, 3, 3])), /conv2d: expected a float32 tensor for weight but received an int64 tensor/);
    const gone = zeros([8, 6, 3, 3], { device: DEVICE });
    gone.dispose();
    assertThrows(() => conv2d(x, gone), /conv2d: expected a live tensor for weight but received a disposed one/);
  });
});

test('conv2d kernels: native checks throw instead of crashing', () => {
  scope(() => {
    const x = zeros([2, 4, 5, 5]), w = zeros([6, 2, 3, 3]), y = zeros([2, 6, 3, 3]), b = zeros([6]);
    const shape = (o: Partial<Conv2dShape> = {}): Conv2dShape =>
      ({ N: 2, Cin: 4, H: 5, W: 5, Cout: 6, kh: 3, kw: 3, strideH: 1, strideW: 1, padH: 0, padW: 0, groups: 2, ...o });
    const fwd = (out: NativeStorage, bias: NativeStorage | null, o: Partial<Conv2dShape> = {}) =>
      native.conv2d_forward({ out, inp: x.storage, weight: w.storage, bias, ...shape(o) });
    const bwd = (dinp: NativeStorage | null, dweight: NativeStorage | null, dbias: NativeStorage | null, inp: NativeStorage | null, weight: NativeStorage | null) =>
      native.conv2d_backward({ dinp, dweight, dbias, dout: y.storage, inp, weight, ...shape() });
    fwd(y.storage, b.storage);
    assertThrows(() => fwd(y.storage, null, { N: 3 }), /conv2d_forward: expected a storage of at least 162 elements for out but received one of 108/);
    assertThrows(() => fwd(y.storage, zeros([5]).storage), /conv2d_forward: expected a storage of at least 6 elements for bias but received one of 5/);
    assertThrows(() => fwd(y.storage, null, { groups: 3 }), /conv2d_forward: expected a multiple of groups 3 for Cin but received 4/);
    assertThrows(() => fwd(y.storage, null, { groups: 0 }), /conv2d_forward: expected a positive integer for groups but received 0/);
    assertThrows(() => fwd(y.storage, null, { strideH: 0 }), /conv2d_forward: expected a positive integer for strideH but received 0/);
    assertThrows(() => fwd(y.storage, null, { kh: 6 }), /conv2d_forward: expected at most the padded height 5 for kh but received 6/);
    assertThrows(() => fwd(y.storage, null, { N: 2 ** 40 }), /conv2d_forward: expected every size below 2\^31/);
    assertThrows(() => native.conv2d_forward({ out: x.storage, inp: x.storage, weight: w.storage, bias: null, N: 2, Cin: 4, H: 5, W: 5, Cout: 4, kh: 1, kw: 1, strideH: 1, strideW: 1, padH: 0, padW: 0, groups: 4 }), /conv2d_forward: expected a storage distinct from inp for out but received the same storage/);
    assertThrows(() => fwd(y.storage, undefined as never), /conv2d_forward: expected a Storage for bias but received undefined/);
    assertThrows(() => (native.conv2d_forward as (...a: unknown[]) => void)(y.storage, x.storage), /conv2d_forward: expected 1 argument \(an object of named fields\) but received 2/);
    assertThrows(() => bwd(null, w.storage, null, null, null), /conv2d_backward: expected a Storage for inp but received null/);
    assertThrows(() => bwd(x.storage, null, null, null, null), /conv2d_backward: expected a Storage for weight but received null/);
    assertThrows(() => bwd(null, null, y.storage, null, null), /conv2d_backward: expected a storage distinct from dout for dbias but received the same storage/);
    bwd(null, null, null, null, null);
  });
});

test('conv2d: no leaks in a scope', () => {
  assertNoLeakInScope('conv2d', () => {
    const [x, w] = randomTensors(new Rng(2), [2, 4, 5, 5], [6, 2, 3, 3]);
    const b = zeros([6], { device: DEVICE }).requiresGrad_();
    const y = conv2d(x.permute(0, 1, 3, 2), w, b, { stride: 2, padding: 1, groups: 2 });
    y.backward(onesOn(y.shape));
    const d = conv2d(x, zeros([4, 1, 3, 3], { device: DEVICE }).requiresGrad_(), null, { padding: 1, groups: 4 });
    d.backward(onesOn(d.shape));
  }, 5);
});

test.run();
