import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { add, batchNorm2d, gelu, noGrad, relu, Rng, scope, tensor, zeros, type Tensor } from '../../lib/index';
import type { BatchNormActivation } from '../../lib/ops/batchnorm';
import { native } from '../../lib/native';
import { assertClose, assertNoLeak, assertThrows, DEVICE, fixture, fromHost, gradcheck, randomInput } from '../helpers';
import { geluRef } from './elementwise-ref';

const golden = fixture('batchnorm');

interface Module {
  weight: Tensor;
  bias: Tensor;
  runningMean: Tensor;
  runningVar: Tensor;
  numBatchesTracked: Tensor;
}

// A BatchNorm2d's parameters and buffers from the fixture group `prefix`.
function module(prefix: string): Module {
  return {
    weight: fromHost(golden(`${prefix}.weight`), true),
    bias: fromHost(golden(`${prefix}.bias`), true),
    runningMean: fromHost(golden(`${prefix}.running_mean0`)),
    runningVar: fromHost(golden(`${prefix}.running_var0`)),
    numBatchesTracked: tensor(BigInt64Array.from([0n]), [], { device: DEVICE }),
  };
}

function dispose(m: Module): void {
  for (const t of Object.values(m)) t.dispose();
}

function forward(m: Module, x: Tensor, training: boolean, activation?: BatchNormActivation): Tensor {
  return batchNorm2d(x, m.weight, m.bias, m.runningMean, m.runningVar, m.numBatchesTracked, { training, activation });
}

// The statistics are reduced in double and the float-rounded mean is corrected for, so
// even the large-mean case agrees with float64 torch to near float32 rounding.
const TIGHT = { rtol: 1e-5, atol: 1e-7 };

// One forward/backward of `step` (a fixture prefix) compared with torch; view reshapes x
// to the shape the BatchNorm sees and back.
function checkStep(m: Module, step: string, training: boolean, view?: number[], activation?: BatchNormActivation): void {
  const x = fromHost(golden(`${step}.x`), true);
  const y = view ? forward(m, x.reshape(...view), training).reshape(...x.shape) : forward(m, x, training, activation);
  assertClose(`batchNorm2d ${step} forward vs torch`, y, golden(`${step}.y`), TIGHT);
  y.backward(fromHost(golden(`${step}.w`)));
  assertClose(`batchNorm2d ${step} dx vs torch`, x.grad!, golden(`${step}.dx`), TIGHT);
  assertClose(`batchNorm2d ${step} dweight vs torch`, m.weight.grad!, golden(`${step}.dweight`), TIGHT);
  assertClose(`batchNorm2d ${step} dbias vs torch`, m.bias.grad!, golden(`${step}.dbias`), TIGHT);
  for (const p of [m.weight, m.bias]) {
    p.grad!.dispose();
    p.grad = null;
  }
  x.dispose();
  y.dispose();
}

function checkStats(m: Module, prefix: string): void {
  assertClose(`batchNorm2d ${prefix} running_mean vs torch`, m.runningMean, golden(`${prefix}.running_mean`), TIGHT);
  assertClose(`batchNorm2d ${prefix} running_var vs torch`, m.runningVar, golden(`${prefix}.running_var`), TIGHT);
  assert.equal(m.numBatchesTracked.item(), Number(golden(`${prefix}.num_batches_tracked`).data[0]), `${prefix}: num_batches_tracked`);
}

test('batchNorm2d: two training steps match PyTorch (outputs, gradients, running statistics)', () => {
  const m = module('train');
  checkStep(m, 'train.step1', true);
  checkStats(m, 'train.step1');
  assert.is(m.numBatchesTracked.item(), 1);
  checkStep(m, 'train.step2', true);
  checkStats(m, 'train.step2');
  assert.is(m.numBatchesTracked.item(), 2);
  dispose(m);
});

test('batchNorm2d: eval mode matches PyTorch and leaves the buffers alone', () => {
  const m = module('eval');
  checkStep(m, 'eval', false);
  checkStats(m, 'eval');
  assert.is(m.numBatchesTracked.item(), 0);
  dispose(m);
});

test('batchNorm2d: eval backward uses the statistics of its forward pass', () => {
  const m = module('eval');
  const x = fromHost(golden('eval.x'), true);
  const y = forward(m, x, false);
  // a training step on other data updates the running buffers in place before backward
  scope(() => noGrad(() => forward(m, fromHost(golden('train.step1.x')).reshape(25, 3, 2, 2), true)));
  y.backward(fromHost(golden('eval.w')));
  assertClose('batchNorm2d eval dx after a buffer update', x.grad!, golden('eval.dx'));
  assertClose('batchNorm2d eval dweight after a buffer update', m.weight.grad!, golden('eval.dweight'));
  assert.is(m.numBatchesTracked.item(), 1);
  dispose(m);
  x.dispose();
  y.dispose();
});

test('batchNorm2d: fc3_bn on the share-set view (6, 8, 3, 3) -> (12, 4, 3, 3)', () => {
  const m = module('shareset');
  checkStep(m, 'shareset', true, [12, 4, 3, 3]);
  checkStats(m, 'shareset');
  dispose(m);
});

test('batchNorm2d: two values per channel (N = 2, 1x1 maps)', () => {
  const m = module('small');
  checkStep(m, 'small', true);
  checkStats(m, 'small');
  dispose(m);
});

test('batchNorm2d: a large mean with a small spread', () => {
  const m = module('offset');
  checkStep(m, 'offset', true);
  checkStats(m, 'offset');
  dispose(m);
});

for (const act of ['relu', 'gelu'] as const) {
  test(`batchNorm2d + ${act} (fused): training then eval match PyTorch's F.${act}(bn(x))`, () => {
    const m = module(`act.${act}`);
    checkStep(m, `act.${act}.train`, true, undefined, act);
    checkStats(m, `act.${act}.train`);
    checkStep(m, `act.${act}.eval`, false, undefined, act);
    dispose(m);
  });
}

test('batchNorm2d + residual (fused): training then eval match PyTorch\'s bn(x) + r, with dr', () => {
  const m = module('residual');
  for (const [mode, training] of [['train', true], ['eval', false]] as const) {
    const step = `residual.${mode}`;
    const x = fromHost(golden(`${step}.x`), true), r = fromHost(golden(`${step}.r`), true);
    const y = batchNorm2d(x, m.weight, m.bias, m.runningMean, m.runningVar, m.numBatchesTracked, { training, residual: r });
    assertClose(`batchNorm2d ${step} forward vs torch`, y, golden(`${step}.y`), TIGHT);
    y.backward(fromHost(golden(`${step}.w`)));
    assertClose(`batchNorm2d ${step} dx vs torch`, x.grad!, golden(`${step}.dx`), TIGHT);
    assertClose(`batchNorm2d ${step} dr vs torch`, r.grad!, golden(`${step}.dr`), { rtol: 0, atol: 0 });
    assertClose(`batchNorm2d ${step} dweight vs torch`, m.weight.grad!, golden(`${step}.dweight`), TIGHT);
    assertClose(`batchNorm2d ${step} dbias vs torch`, m.bias.grad!, golden(`${step}.dbias`), TIGHT);
    for (const p of [m.weight, m.bias]) {
      p.grad!.dispose();
      p.grad = null;
    }
    for (const t of [x, r, y]) t.dispose();
  }
  checkStats(m, 'residual');
  dispose(m);
});

// float64 references: x (N, C, H, W) flat; stats per channel over (N, H, W).
function refBatchNorm(x: Float64Array, shape: number[], w: Float64Array, b: Float64Array, stats: { mean: Float64Array; variance: Float64Array } | null, eps = 1e-5): Float64Array {
  const [N, C, H, W] = shape, HW = H * W, M = N * HW;
  const mean = new Float64Array(C), variance = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    if (stats) {
      mean[c] = stats.mean[c];
      variance[c] = stats.variance[c];
      continue;
    }
    let s = 0;
    for (let n = 0; n < N; n++) for (let i = 0; i < HW; i++) s += x[(n * C + c) * HW + i];
    mean[c] = s / M;
    let q = 0;
    for (let n = 0; n < N; n++) for (let i = 0; i < HW; i++) q += (x[(n * C + c) * HW + i] - mean[c]) ** 2;
    variance[c] = q / M;
  }
  const y = new Float64Array(x.length);
  for (let k = 0; k < x.length; k++) {
    const c = Math.floor(k / HW) % C;
    y[k] = ((x[k] - mean[c]) / Math.sqrt(variance[c] + eps)) * w[c] + b[c];
  }
  return y;
}

test('batchNorm2d: training mode vs a float64 reference and finite differences', () => {
  const rng = new Rng(11);
  const shape = [3, 2, 2, 3];
  const rm = zeros([2], { device: DEVICE }), rv = zeros([2], { device: DEVICE });
  gradcheck({
    name: 'batchNorm2d train',
    rng,
    inputs: [randomInput(shape, rng), randomInput([2], rng, 0.5), randomInput([2], rng)],
    op: ([x, w, b]) => batchNorm2d(x, w, b, rm, rv, null, { training: true }),
    ref: ([x, w, b]) => refBatchNorm(x, shape, w, b, null),
  });
  rm.dispose();
  rv.dispose();
});

test('batchNorm2d: eval mode vs a float64 reference and finite differences', () => {
  const rng = new Rng(12);
  const shape = [2, 3, 2, 2];
  const mean = Float64Array.from([0.3, -0.2, 1.5]), variance = Float64Array.from([0.5, 2, 0.25]);
  const rm = tensor(Float32Array.from(mean), [3], { device: DEVICE }), rv = tensor(Float32Array.from(variance), [3], { device: DEVICE });
  gradcheck({
    name: 'batchNorm2d eval',
    rng,
    inputs: [randomInput(shape, rng), randomInput([3], rng), randomInput([3], rng)],
    op: ([x, w, b]) => batchNorm2d(x, w, b, rm, rv, null, { training: false, eps: 1e-3 }),
    ref: ([x, w, b]) => refBatchNorm(x, shape, w, b, { mean, variance }, 1e-3),
  });
  rm.dispose();
  rv.dispose();
});

const ACT_REFS = { relu: (v: number) => Math.max(v, 0), gelu: geluRef };

for (const act of ['relu', 'gelu'] as const) {
  test(`batchNorm2d + ${act} (fused): training and eval vs a float64 reference and finite differences`, () => {
    const rng = new Rng(act === 'relu' ? 21 : 22);
    const shape = [3, 2, 2, 3];
    const f = ACT_REFS[act];
    const rm = zeros([2], { device: DEVICE }), rv = zeros([2], { device: DEVICE });
    gradcheck({
      name: `batchNorm2d+${act} train`,
      rng,
      inputs: [randomInput(shape, rng), randomInput([2], rng, 0.5), randomInput([2], rng)],
      op: ([x, w, b]) => batchNorm2d(x, w, b, rm, rv, null, { training: true, activation: act }),
      ref: ([x, w, b]) => refBatchNorm(x, shape, w, b, null).map(f),
    });
    const mean = Float64Array.from([0.3, -0.2]), variance = Float64Array.from([0.5, 2]);
    const em = tensor(Float32Array.from(mean), [2], { device: DEVICE }), ev = tensor(Float32Array.from(variance), [2], { device: DEVICE });
    gradcheck({
      name: `batchNorm2d+${act} eval`,
      rng,
      inputs: [randomInput(shape, rng), randomInput([2], rng), randomInput([2], rng)],
      op: ([x, w, b]) => batchNorm2d(x, w, b, em, ev, null, { training: false, activation: act }),
      ref: ([x, w, b]) => refBatchNorm(x, shape, w, b, { mean, variance }).map(f),
    });
    for (const t of [rm, rv, em, ev]) t.dispose();
  });

  test(`batchNorm2d + ${act} (fused) equals ${act}(batchNorm2d(x)): values, gradients, running statistics`, () => {
    const rng = new Rng(act === 'relu' ? 31 : 32);
    // (N, C, H, W) with planes wider than a vector and a ragged tail
    const shape = [3, 4, 5, 7];
    const n = shape.reduce((a, b) => a * b, 1);
    const rand = (len: number, scale = 1) => Float32Array.from({ length: len }, () => rng.normal() * scale);
    const xd = rand(n, 2), gd = rand(n), wd = rand(4), bd = rand(4);
    const run = (fused: boolean, training: boolean) => {
      const x = tensor(xd, shape, { device: DEVICE }).requiresGrad_();
      const w = tensor(wd, [4], { device: DEVICE }).requiresGrad_();
      const b = tensor(bd, [4], { device: DEVICE }).requiresGrad_();
      const rm = tensor([0.1, 0.2, -0.3, 0], [4], { device: DEVICE }), rv = tensor([1, 2, 0.5, 4], [4], { device: DEVICE });
      const opts = { training, activation: fused ? act : undefined };
      const t = batchNorm2d(x, w, b, rm, rv, null, opts);
      const y = fused ? t : act === 'relu' ? relu(t) : gelu(t);
      y.backward(tensor(gd, shape, { device: DEVICE }));
      return { y, dx: x.grad!, dw: w.grad!, db: b.grad!, rm, rv };
    };
    for (const training of [true, false]) {
      const f = run(true, training), u = run(false, training);
      const tag = `batchNorm2d+${act} ${training ? 'train' : 'eval'} fused vs unfused`;
      const tol = { rtol: 1e-5, atol: 1e-6 };
      assertClose(`${tag}: y`, f.y, u.y.toFloat32Array(), tol);
      assertClose(`${tag}: dx`, f.dx, u.dx.toFloat32Array(), tol);
      assertClose(`${tag}: dweight`, f.dw, u.dw.toFloat32Array(), tol);
      assertClose(`${tag}: dbias`, f.db, u.db.toFloat32Array(), tol);
      assertClose(`${tag}: running_mean`, f.rm, u.rm.toFloat32Array(), { rtol: 0, atol: 0 });
      assertClose(`${tag}: running_var`, f.rv, u.rv.toFloat32Array(), { rtol: 0, atol: 0 });
    }
  });
}

test('batchNorm2d + residual (fused): training and eval vs a float64 reference and finite differences; equals add()', () => {
  const rng = new Rng(41);
  const shape = [3, 2, 2, 3];
  const rm = zeros([2], { device: DEVICE }), rv = zeros([2], { device: DEVICE });
  const addRef = (y: Float64Array, r: Float64Array) => y.map((v, i) => v + r[i]);
  gradcheck({
    name: 'batchNorm2d+residual train',
    rng,
    inputs: [randomInput(shape, rng), randomInput([2], rng, 0.5), randomInput([2], rng), randomInput(shape, rng)],
    op: ([x, w, b, r]) => batchNorm2d(x, w, b, rm, rv, null, { training: true, residual: r }),
    ref: ([x, w, b, r]) => addRef(refBatchNorm(x, shape, w, b, null), r),
  });
  const mean = Float64Array.from([0.3, -0.2]), variance = Float64Array.from([0.5, 2]);
  const em = tensor(Float32Array.from(mean), [2], { device: DEVICE }), ev = tensor(Float32Array.from(variance), [2], { device: DEVICE });
  gradcheck({
    name: 'batchNorm2d+residual eval',
    rng,
    inputs: [randomInput(shape, rng), randomInput([2], rng), randomInput([2], rng), randomInput(shape, rng)],
    op: ([x, w, b, r]) => batchNorm2d(x, w, b, em, ev, null, { training: false, residual: r }),
    ref: ([x, w, b, r]) => addRef(refBatchNorm(x, shape, w, b, { mean, variance }), r),
  });
  // the same values as add(batchNorm2d(x), r), for a residual given as a permuted view
  scope(() => {
    const x = tensor(Float32Array.from({ length: 60 }, () => rng.normal()), [2, 3, 2, 5], { device: DEVICE });
    const w = tensor([1, -0.5, 2], [3], { device: DEVICE }), b = tensor([0.1, 0, -1], [3], { device: DEVICE });
    const r = tensor(Float32Array.from({ length: 60 }, () => rng.normal()), [2, 3, 5, 2], { device: DEVICE }).permute(0, 1, 3, 2);
    const fused = batchNorm2d(x, w, b, null, null, null, { training: true, residual: r });
    const unfused = add(batchNorm2d(x, w, b, null, null, null, { training: true }), r);
    assertClose('batchNorm2d+residual fused vs add()', fused, unfused.toFloat32Array(), { rtol: 0, atol: 0 });
  });
  for (const t of [rm, rv, em, ev]) t.dispose();
});

test('batchNorm2d: momentum and eps options, no running buffers, a permuted input', () => {
  const rng = new Rng(5);
  const shape = [2, 3, 2, 2];
  const xin = randomInput(shape, rng);
  const w = Float64Array.from([1, 0.5, -2]), b = Float64Array.from([0, 1, 0.25]);
  const wt = tensor(Float32Array.from(w), [3], { device: DEVICE }), bt = tensor(Float32Array.from(b), [3], { device: DEVICE });
  // x stored as (N, H, W, C) and permuted to (N, C, H, W)
  const nhwc = new Float32Array(xin.data.length);
  for (let n = 0; n < 2; n++) for (let c = 0; c < 3; c++) for (let i = 0; i < 4; i++) nhwc[(n * 4 + i) * 3 + c] = xin.data[(n * 3 + c) * 4 + i];
  const xs = tensor(nhwc, [2, 2, 2, 3], { device: DEVICE });
  const x = xs.permute(0, 3, 1, 2);
  const rm = tensor([1, 2, 3], [3], { device: DEVICE }), rv = tensor([1, 1, 4], [3], { device: DEVICE });
  const y = batchNorm2d(x, wt, bt, rm, rv, null, { training: true, momentum: 0.25, eps: 1e-2 });
  assertClose('batchNorm2d permuted input, eps 1e-2', y, refBatchNorm(xin.data, shape, w, b, null, 1e-2));
  // running stats with momentum 0.25: (1 - m) * old + m * batch (unbiased variance, 8 values)
  const expMean: number[] = [], expVar: number[] = [];
  [1, 2, 3].forEach((old, c) => {
    const vals = [0, 1].flatMap((n) => [0, 1, 2, 3].map((i) => xin.data[(n * 3 + c) * 4 + i]));
    const mu = vals.reduce((s, v) => s + v, 0) / 8;
    const unbiased = vals.reduce((s, v) => s + (v - mu) ** 2, 0) / 7;
    expMean.push(0.75 * old + 0.25 * mu);
    expVar.push(0.75 * [1, 1, 4][c] + 0.25 * unbiased);
  });
  assertClose('batchNorm2d running_mean with momentum 0.25', rm, expMean);
  assertClose('batchNorm2d running_var with momentum 0.25', rv, expVar);
  const y2 = batchNorm2d(x, wt, bt, null, null, null, { training: true, eps: 1e-2 });
  assertClose('batchNorm2d without running buffers', y2, y);
  for (const t of [wt, bt, xs, x, rm, rv, y, y2]) t.dispose();
});

test('batchNorm2d: gradients only where asked', () => {
  const m = module('train');
  m.weight.requiresGrad = false;
  const x = fromHost(golden('train.step1.x'));
  const y = forward(m, x, true);
  y.backward(fromHost(golden('train.step1.w')));
  assert.is(m.weight.grad, null);
  assertClose('batchNorm2d dbias alone', m.bias.grad!, golden('train.step1.dbias'));
  assert.is(x.grad, null);
  dispose(m);
  x.dispose();
  y.dispose();
});

test('batchNorm2d + relu (fused): NaN propagates as in PyTorch\'s relu(bn(x))', () => {
  // x (2, 2, 1, 2) with a NaN in channel 0; weight 1, bias 0, running statistics 0 and 1.
  const x = tensor([NaN, 1, 2, 3, 4, 5, 6, 7], [2, 2, 1, 2], { device: DEVICE }).requiresGrad_();
  const w = tensor([1, 1], [2], { device: DEVICE }).requiresGrad_(), b = tensor([0, 0], [2], { device: DEVICE }).requiresGrad_();
  const rm = tensor([0, 0], [2], { device: DEVICE }), rv = tensor([1, 1], [2], { device: DEVICE });
  const str = (t: Tensor) => Array.from(t.toFloat32Array()).map((v) => (Number.isNaN(v) ? 'NaN' : 'finite'));
  // Training: channel 0's batch statistics are NaN, so its whole output is NaN (relu(NaN) = NaN).
  const yt = batchNorm2d(x, w, b, null, null, null, { training: true, activation: 'relu' });
  assert.equal(str(yt), ['NaN', 'NaN', 'finite', 'finite', 'NaN', 'NaN', 'finite', 'finite']);
  yt.dispose();
  // Eval: only the NaN element is NaN. Backward with dout = 1: relu's gradient passes dout at the
  // NaN output (out <= 0 is false), so dx = weight * invstd everywhere; dweight sums dout * xhat,
  // NaN in channel 0; dbias sums dout.
  const y = batchNorm2d(x, w, b, rm, rv, null, { training: false, activation: 'relu' });
  assert.equal(str(y), ['NaN', 'finite', 'finite', 'finite', 'finite', 'finite', 'finite', 'finite']);
  y.backward(tensor([1, 1, 1, 1, 1, 1, 1, 1], [2, 2, 1, 2], { device: DEVICE }));
  const invstd = 1 / Math.sqrt(1 + 1e-5);
  assertClose('dx at and around the NaN', x.grad!, new Array(8).fill(invstd));
  assert.equal(str(w.grad!), ['NaN', 'finite']);
  assertClose('dbias', b.grad!, [4, 4]);
  for (const t of [x, w, b, rm, rv, y]) t.dispose();
});

test('batchNorm2d: rejects bad arguments with clear messages', () => {
  const m = module('eval'); // C = 3
  const x = zeros([2, 3, 2, 2], { device: DEVICE });
  const defaults: Record<string, unknown> = { x, ...m };
  const bn = (o: Partial<Record<keyof Module | 'x', unknown>>, opts: unknown = { training: true }) => {
    const arg = (k: keyof Module | 'x') => (k in o ? o[k] : defaults[k]) as Tensor;
    return batchNorm2d(arg('x'), arg('weight'), arg('bias'), arg('runningMean'), arg('runningVar'), arg('numBatchesTracked'), opts as never);
  };
  const x3 = zeros([2, 3, 4], { device: DEVICE });
  assertThrows(() => bn({ x: x3 }), /batchNorm2d: expected a 4-d tensor for x but received shape \(2, 3, 4\)/);
  assertThrows(() => bn({ x: null }), /batchNorm2d: expected a Tensor for x but received null/);
  const w4 = zeros([4], { device: DEVICE });
  assertThrows(() => bn({ weight: w4 }), /batchNorm2d: expected shape \(3\) for weight but received shape \(4\)/);
  assertThrows(() => bn({ bias: w4 }), /batchNorm2d: expected shape \(3\) for bias but received shape \(4\)/);
  assertThrows(() => bn({ runningMean: w4 }), /batchNorm2d: expected shape \(3\) for runningMean but received shape \(4\)/);
  assertThrows(() => bn({ runningMean: null }, { training: false }), /batchNorm2d: expected a Tensor in eval mode for runningMean but received null/);
  assertThrows(() => bn({ runningVar: null }), /batchNorm2d: expected a Tensor like runningMean for runningVar but received null/);
  const f1 = zeros([1], { device: DEVICE });
  assertThrows(() => bn({ numBatchesTracked: f1 }), /batchNorm2d: expected an int64 tensor for numBatchesTracked but received a float32 tensor/);
  const i2 = tensor(BigInt64Array.from([0n, 0n]), [2], { device: DEVICE });
  assertThrows(() => bn({ numBatchesTracked: i2 }), /batchNorm2d: expected a tensor of one element for numBatchesTracked but received shape \(2\)/);
  assertThrows(() => bn({}, {}), /batchNorm2d: expected a boolean for options.training but received undefined/);
  assertThrows(() => bn({}, null), /batchNorm2d: expected an object with a boolean training for options but received null/);
  assertThrows(() => bn({}, { training: true, momentum: 2 }), /batchNorm2d: expected a number in \[0, 1\] for options.momentum but received 2/);
  assertThrows(() => bn({}, { training: true, eps: 0 }), /batchNorm2d: expected a positive finite number for options.eps but received 0/);
  assertThrows(() => bn({}, { training: true, activation: 'silu' }),
    /batchNorm2d: expected 'none', 'relu' or 'gelu' for options.activation but received 'silu'/);
  assertThrows(() => bn({}, { training: true, activation: 'toString' }), /batchNorm2d: expected 'none', 'relu' or 'gelu' for options.activation/);
  const r3 = zeros([2, 3, 2, 1], { device: DEVICE }), r4 = zeros([2, 3, 2, 2], { device: DEVICE });
  assertThrows(() => bn({}, { training: true, residual: r3 }), /batchNorm2d: expected shape \(2, 3, 2, 2\) for options.residual but received shape \(2, 3, 2, 1\)/);
  assertThrows(() => bn({}, { training: true, residual: 'x' }), /batchNorm2d: expected a Tensor for options.residual but received 'x'/);
  assertThrows(() => bn({}, { training: false, residual: r4, activation: 'relu' }),
    /batchNorm2d: expected no residual with activation 'relu' for options.residual but received a Tensor/);
  const x1 = zeros([1, 3, 1, 1], { device: DEVICE });
  assertThrows(() => bn({ x: x1 }), /batchNorm2d: expected more than 1 value per channel when training for x but received shape \(1, 3, 1, 1\)/);
  const big = zeros([2, 3], { device: DEVICE });
  const offsetView = big.slice(1, 2).reshape(3);
  assertThrows(() => bn({ runningVar: offsetView }), /batchNorm2d: expected a dense tensor \(updated in place\) for runningVar but received a strided or offset view/);
  const needsGrad = zeros([3], { device: DEVICE }).requiresGrad_();
  assertThrows(() => bn({ runningMean: needsGrad }), /batchNorm2d: expected a buffer that does not require grad for runningMean but received a tensor with requiresGrad true/);
  // nothing was updated by the failed calls
  assert.is(m.numBatchesTracked.item(), 0);
  for (const t of [x, x3, w4, f1, i2, x1, big, offsetView, needsGrad, r3, r4]) t.dispose();
  dispose(m);
});

test('batchNorm2d kernels: native argument checks', () => {
  const s = (n: number) => zeros([n], { device: DEVICE });
  const [out, mean, invstd, inp, w, b, small] = [s(24), s(3), s(3), s(24), s(3), s(3), s(10)];
  const st = (t: Tensor) => t.storage;
  assertThrows(() => native.batchnorm_forward_train({ out: st(small), meanSaved: st(mean), invstdSaved: st(invstd), runningMean: null, runningVar: null, inp: st(inp), residual: null, weight: st(w), bias: st(b), N: 2, C: 3, HW: 4, momentum: 0.1, eps: 1e-5, act: 0, sync: false }),
    /batchnorm_forward_train: expected a storage of at least 24 elements for out but received one of 10/);
  assertThrows(() => native.batchnorm_forward_train({ out: st(out), meanSaved: st(mean), invstdSaved: st(invstd), runningMean: st(mean), runningVar: null, inp: st(inp), residual: null, weight: st(w), bias: st(b), N: 2, C: 3, HW: 4, momentum: 0.1, eps: 1e-5, act: 0, sync: false }),
    /batchnorm_forward_train: expected a Storage for runningVar but received null/);
  assertThrows(() => native.batchnorm_forward_train({ out: st(out), meanSaved: st(mean), invstdSaved: st(invstd), runningMean: null, runningVar: null, inp: st(inp), residual: null, weight: st(w), bias: st(b), N: 1, C: 3, HW: 1, momentum: 0.1, eps: 1e-5, act: 0, sync: false }),
    /batchnorm_forward_train: expected more than 1 value per channel when training for N \* HW but received 1/);
  assertThrows(() => native.batchnorm_forward_train({ out: st(out), meanSaved: st(mean), invstdSaved: st(invstd), runningMean: null, runningVar: null, inp: st(inp), residual: null, weight: st(w), bias: st(b), N: 2, C: 3, HW: 4, momentum: 0.1, eps: 1e-5, act: 3, sync: false }),
    /batchnorm_forward_train: expected 0 \(none\), 1 \(ReLU\) or 2 \(GELU\) for act but received 3/);
  assertThrows(() => native.batchnorm_forward_eval({ out: st(out), inp: st(inp), residual: null, runningMean: st(mean), runningVar: st(invstd), weight: st(w), bias: st(b), N: 2, C: 3, HW: 4, eps: -1, act: 0 }),
    /batchnorm_forward_eval: expected a positive finite number for eps but received -1/);
  assertThrows(() => native.batchnorm_forward_eval({ out: st(out), inp: st(inp), residual: null, runningMean: st(mean), runningVar: st(invstd), weight: st(w), bias: st(b), N: 2, C: 3, HW: 4, eps: 1e-5, act: 1.5 }),
    /batchnorm_forward_eval: expected an integer of magnitude below 2\^53 for act but received 1.5/);
  assertThrows(() => native.batchnorm_forward_eval({ out: st(out), inp: st(inp), residual: st(small), runningMean: st(mean), runningVar: st(invstd), weight: st(w), bias: st(b), N: 2, C: 3, HW: 4, eps: 1e-5, act: 0 }),
    /batchnorm_forward_eval: expected a storage of at least 24 elements for residual but received one of 10/);
  assertThrows(() => native.batchnorm_forward_train({ out: st(out), meanSaved: st(mean), invstdSaved: st(invstd), runningMean: null, runningVar: null, inp: st(inp), residual: st(inp), weight: st(w), bias: st(b), N: 2, C: 3, HW: 4, momentum: 0.1, eps: 1e-5, act: 2, sync: false }),
    /batchnorm_forward_train: expected null when act is not 0 \(none\) for residual but received a Storage/);
  assertThrows(() => native.batchnorm_backward({ dinp: st(out), dweight: st(w), dbias: st(b), dout: st(out), out: null, inp: st(inp), meanSaved: st(mean), invstdSaved: st(invstd), weight: st(w), bias: null, N: 2, C: 3, HW: 4.5, act: 0, sync: false, count: 8 }),
    /batchnorm_backward: expected a non-negative integer below 2\^53 for HW but received 4.5/);
  assertThrows(() => native.batchnorm_backward({ dinp: st(out), dweight: st(w), dbias: st(b), dout: st(out), out: null, inp: st(inp), meanSaved: st(mean), invstdSaved: st(invstd), weight: st(w), bias: null, N: 2, C: 3, HW: 4, act: 1, sync: false, count: 8 }),
    /batchnorm_backward: expected a Storage for out but received null/);
  assertThrows(() => native.batchnorm_backward({ dinp: st(out), dweight: st(w), dbias: st(b), dout: st(out), out: st(small), inp: st(inp), meanSaved: st(mean), invstdSaved: st(invstd), weight: st(w), bias: null, N: 2, C: 3, HW: 4, act: 1, sync: false, count: 8 }),
    /batchnorm_backward: expected a storage of at least 24 elements for out but received one of 10/);
  assertThrows(() => native.batchnorm_backward({ dinp: st(out), dweight: st(w), dbias: st(b), dout: st(out), out: st(out), inp: st(inp), meanSaved: st(mean), invstdSaved: st(invstd), weight: st(w), bias: null, N: 2, C: 3, HW: 4, act: 2, sync: false, count: 8 }),
    /batchnorm_backward: expected null unless act is ReLU for out but received a Storage/);
  assertThrows(() => native.batchnorm_backward({ dinp: st(out), dweight: st(w), dbias: st(b), dout: st(out), out: null, inp: st(inp), meanSaved: st(mean), invstdSaved: st(invstd), weight: st(w), bias: null, N: 2, C: 3, HW: 4, act: 2, sync: false, count: 8 }),
    /batchnorm_backward: expected a Storage for bias but received null/);
  assertThrows(() => native.batchnorm_backward({ dinp: st(out), dweight: st(w), dbias: st(b), dout: st(out), out: null, inp: st(inp), meanSaved: st(mean), invstdSaved: st(invstd), weight: st(w), bias: st(b), N: 2, C: 3, HW: 4, act: 0, sync: false, count: 8 }),
    /batchnorm_backward: expected null unless act is GELU for bias but received a Storage/);
  assertThrows(() => native.batchnorm_backward_eval({ dinp: st(out), dweight: st(w), dbias: st(b), dout: st(out), out: null, inp: st(small), runningMean: st(mean), runningVar: st(invstd), weight: st(w), bias: null, N: 2, C: 3, HW: 4, eps: 1e-5, act: 0 }),
    /batchnorm_backward_eval: expected a storage of at least 24 elements for inp but received one of 10/);
  assertThrows(() => native.batchnorm_backward_eval({ dinp: st(out), dweight: st(w), dbias: st(b), dout: st(out), out: null, inp: st(inp), runningMean: st(mean), runningVar: st(invstd), weight: st(w), bias: null, N: 2, C: 3, HW: 4, eps: 1e-5, act: -1 }),
    /batchnorm_backward_eval: expected 0 \(none\), 1 \(ReLU\) or 2 \(GELU\) for act but received -1/);
  // Outputs never share a storage with an input (the kernels read them while writing).
  assertThrows(() => native.batchnorm_backward({ dinp: st(out), dweight: st(w), dbias: st(b), dout: st(out), out: null, inp: st(inp), meanSaved: st(mean), invstdSaved: st(invstd), weight: st(w), bias: null, N: 2, C: 3, HW: 4, act: 0, sync: false, count: 8 }),
    /batchnorm_backward: expected a storage distinct from dout for dinp but received the same storage/);
  // No values per channel (N = 0, or HW = 0 with a huge N): every gradient sum is 0, never
  // 0/0, and written without a pass over N * C planes.
  for (const [N, HW] of [[0, 4], [2 ** 40, 0]]) {
    const dw = tensor(new Float32Array(3).fill(NaN), [3], { device: DEVICE }), db = tensor(new Float32Array(3).fill(NaN), [3], { device: DEVICE });
    native.batchnorm_backward({ dinp: st(small), dweight: st(dw), dbias: st(db), dout: st(out), out: null, inp: st(inp), meanSaved: st(mean), invstdSaved: st(invstd), weight: st(w), bias: null, N, C: 3, HW, act: 0, sync: false, count: N * HW });
    assert.equal([...dw.toFloat32Array(), ...db.toFloat32Array()], [0, 0, 0, 0, 0, 0]);
    dw.dispose();
    db.dispose();
  }
  const nbt = tensor(BigInt64Array.from([5n]), [1], { device: DEVICE });
  assertThrows(() => native.add_scalar_i64(st(out), 1, 0, 1), /add_scalar_i64: expected an int64 storage for out but received float32/);
  assertThrows(() => native.add_scalar_i64(nbt.storage, 1, 1, 1), /add_scalar_i64: expected a storage of at least 2 elements for out but received one of 1/);
  native.add_scalar_i64(nbt.storage, 3, 0, 1);
  assert.is(nbt.item(), 8);
  for (const t of [out, mean, invstd, inp, w, b, small, nbt]) t.dispose();
});

test('batchNorm2d with sync on a world of one: the very values, gradients and running statistics of the local statistics', () => {
  const input = (shape: number[], seed: number, grad: boolean) => {
    const t = tensor(Float32Array.from(randomInput(shape, new Rng(seed), 2).data), shape, { device: DEVICE });
    return grad ? t.requiresGrad_() : t;
  };
  for (const [activation, withResidual] of [['none', false], ['relu', false], ['gelu', false], ['none', true]] as const) {
    const run = (sync: boolean) => scope(() => {
      const x = input([3, 4, 5, 5], 1, true), w = input([4], 2, true), b = input([4], 3, true);
      const r = withResidual ? input([3, 4, 5, 5], 4, true) : null;
      const rm = zeros([4], { device: DEVICE }), rv = zeros([4], { device: DEVICE });
      const y = batchNorm2d(x, w, b, rm, rv, null, { training: true, activation, residual: r, sync });
      y.backward(input([3, 4, 5, 5], 5, false));
      return [y, x.grad!, w.grad!, b.grad!, ...(r ? [r.grad!] : []), rm, rv].map((t) => Array.from(t.toFloat32Array()));
    });
    assert.equal(run(true), run(false), `activation ${activation}${withResidual ? ', residual' : ''}`);
  }
  assertThrows(() => batchNorm2d(zeros([1, 4, 1, 1], { device: DEVICE }), zeros([4]), zeros([4]), null, null, null, { training: true, sync: 1 as never }),
    /batchNorm2d: expected a boolean for options.sync but received 1/);
  // under sync the count over the world is checked natively: one value is too few there too
  assertThrows(() => batchNorm2d(zeros([1, 4, 1, 1], { device: DEVICE }), zeros([4], { device: DEVICE }), zeros([4], { device: DEVICE }), null, null, null, { training: true, sync: true }),
    /batchnorm_forward_train: expected more than 1 value per channel over the world when training but received 1/);
});

test('batchNorm2d: no leaks in a scope (training and eval, forward and backward)', () => {
  const rng = new Rng(2);
  assertNoLeak('batchNorm2d', () => {
    scope(() => {
      const x = tensor(Float32Array.from({ length: 24 }, () => rng.normal()), [2, 3, 2, 2], { device: DEVICE }).requiresGrad_();
      const w = tensor([1, 2, 3], [3], { device: DEVICE }).requiresGrad_();
      const b = tensor([0, 0, 1], [3], { device: DEVICE }).requiresGrad_();
      const rm = zeros([3], { device: DEVICE }), rv = tensor([1, 1, 1], [3], { device: DEVICE });
      const nbt = tensor(BigInt64Array.from([0n]), [], { device: DEVICE });
      const g = tensor(Float32Array.from({ length: 24 }, () => rng.normal()), [2, 3, 2, 2], { device: DEVICE });
      batchNorm2d(x, w, b, rm, rv, nbt, { training: true }).backward(g);
      batchNorm2d(x, w, b, rm, rv, nbt, { training: false }).backward(g);
      const r = tensor(Float32Array.from({ length: 24 }, () => rng.normal()), [2, 3, 2, 2], { device: DEVICE }).requiresGrad_();
      batchNorm2d(x, w, b, rm, rv, nbt, { training: true, residual: r }).backward(g);
      batchNorm2d(x, w, b, rm, rv, nbt, { training: false, residual: r.permute(0, 1, 3, 2) }).backward(g);
      for (const activation of ['relu', 'gelu'] as const) {
        batchNorm2d(x, w, b, rm, rv, nbt, { training: true, activation }).backward(g);
        batchNorm2d(x, w, b, rm, rv, nbt, { training: false, activation }).backward(g);
      }
      batchNorm2d(x.permute(0, 1, 3, 2), w, b, rm, rv, nbt, { training: true }).backward(g);
      // a forward whose graph is never run
      batchNorm2d(x, w, b, rm, rv, nbt, { training: false });
      noGrad(() => batchNorm2d(x, w, b, rm, rv, nbt, { training: true }));
    });
  }, 5);
});

test.run();
