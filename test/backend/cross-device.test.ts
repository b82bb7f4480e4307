// Every op on the device under test against the CPU kernels, on fresh random inputs each
// run (the seed is printed in a failure's message; REPMLP_TEST_SEED repeats a run). New
// tensors are poisoned (NaN / -1, see test/helpers.ts), so an output element a kernel
// forgets to write shows up as a NaN.
//
// Under `npm run test:gpu` the device under test is CUDA: forward outputs, every input
// gradient, running statistics and optimizer states must agree with the CPU within float32
// rounding (different summation orders). Under `npm test` it is the CPU itself: the two runs
// must then agree bit for bit, which checks that the CPU kernels are deterministic (their
// reductions add in a fixed order whatever the thread count) and write all of their output.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  AdamW, add, addScalar, avgPool2d, batchNorm2d, bmm, compileInference, groupedLinear, maxPool2d, conv1x1, conv2d, contiguous, correctCount, crossEntropy, expand, full, gelu,
  globalAvgPool, info, linear,
  matmul, mean, mul, mulScalar, partition, permute, preset, relu, RepMLPNet, RepMLPResNet, Rng, scope, setNumThreads, silu,
  setSharingFc, SGD, sigmoid, sub, sum, tensor, unpartition, unpartitionGate, type Device, type RepMLPResNetConfig, type Tensor,
} from '../../lib/index';
import { native } from '../../lib/native';
import { DEVICE, diff } from '../helpers';

const SEED = process.env.REPMLP_TEST_SEED ? Number(process.env.REPMLP_TEST_SEED) : Date.now() % 1_000_000;
const OTHER: Device = DEVICE;
const EXACT = OTHER === 'cpu';
// For the CUDA comparison: |other - cpu| <= ATOL + RTOL * max |cpu| per tensor.
const RTOL = 2e-5, ATOL = 1e-6;
// For the gradients of a model whose ReLUs and max pools route them: the two devices' forwards
// differ by rounding, so an input of a ReLU within rounding of 0, or two elements of a pool's
// window within rounding of each other, can go one way on one device and the other way on the
// other, and the gradient behind it moves. In the RepMLPResNet cases (18 seeds on the
// emulator) 3 seeds had such a flip: the stem's conv and BN weight gradients moved by up to
// 2.6e-2 of their largest element (1300 times RTOL; relative L2 distance up to 2.6e-2), and a
// stage-1 conv's by 2.3 times RTOL. A kernel or a model wired wrong moves a gradient by order 1;
// each kernel's own agreement to RTOL is checked by the op cases above.
const ROUTED_RTOL = 0.1;
const l2 = (v: Float32Array) => Math.sqrt(v.reduce((sum, x) => sum + x * x, 0));

type Kind = 'normal' | 'positive' | 'labels' | 'probs';
interface Input {
  shape: number[];
  kind?: Kind;
  /** number of classes for 'labels' (int64) */
  classes?: number;
  grad?: boolean; // default true for float inputs
}

interface Case {
  name: string;
  inputs: Input[];
  /** the op under test; its first result is differentiated, the rest (if any) only compared */
  run: (xs: Tensor[]) => Tensor | Tensor[];
}

function hostData(inp: Input, rng: Rng): Float32Array | BigInt64Array {
  const n = inp.shape.reduce((a, b) => a * b, 1);
  if (inp.kind === 'labels') return BigInt64Array.from({ length: n }, () => BigInt(rng.int(inp.classes!)));
  const d = new Float32Array(n);
  for (let i = 0; i < n; i++) d[i] = inp.kind === 'positive' ? 0.5 + rng.uniform() : rng.normal();
  if (inp.kind === 'probs') {
    const K = inp.shape[inp.shape.length - 1];
    for (let r = 0; r < n / K; r++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += (d[r * K + k] = Math.exp(d[r * K + k]));
      for (let k = 0; k < K; k++) d[r * K + k] /= s;
    }
  }
  return d;
}

/** Runs a case on one device and returns every result on the host: outputs, then gradients. */
function runOn(device: Device, c: Case, data: (Float32Array | BigInt64Array)[], cotangentSeed: number): Map<string, Float32Array> {
  return scope(() => {
    const xs = c.inputs.map((inp, i) => {
      const t = tensor(data[i], inp.shape, { device, dtype: inp.kind === 'labels' ? 'int64' : 'float32' });
      return inp.kind !== 'labels' && inp.kind !== 'probs' && inp.grad !== false ? t.requiresGrad_() : t;
    });
    const res = c.run(xs);
    const outs = Array.isArray(res) ? res : [res];
    const got = new Map<string, Float32Array>();
    outs.forEach((o, i) => got.set(`output ${i}`, o.toFloat32Array()));
    if (outs[0].requiresGrad) {
      const rng = new Rng(cotangentSeed);
      const w = tensor(Float32Array.from({ length: outs[0].numel }, () => rng.normal()), outs[0].shape, { device });
      outs[0].backward(w);
      xs.forEach((x, i) => {
        if (x.requiresGrad) got.set(`grad of input ${i}`, x.grad!.toFloat32Array());
      });
    }
    // Inputs changed in place (running statistics) are results too.
    xs.forEach((x, i) => {
      if (!x.requiresGrad && x.dtype === 'float32') got.set(`input ${i} after`, x.toFloat32Array());
    });
    return got;
  });
}

const maxAbs = (xs: Float32Array): number => xs.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

/**
 * Compares every result of a run on OTHER with the CPU's. The tolerance scales with the
 * tensor's own largest value, except for the keys `sharedScale` selects: those share the
 * largest value among them (see the RepMLPNet case), and the keys `routed` selects, which
 * are compared by their relative L2 distance (see ROUTED_RTOL).
 */
function compare(
  label: string,
  cpu: Map<string, Float32Array>,
  other: Map<string, Float32Array>,
  sharedScale: (key: string) => boolean = () => false,
  routed: (key: string) => boolean = () => false,
): void {
  assert.equal([...other.keys()], [...cpu.keys()], `${label}: results`);
  let shared = 0;
  for (const [key, e] of cpu) if (sharedScale(key)) shared = Math.max(shared, maxAbs(e));
  for (const [key, e] of cpu) {
    const a = other.get(key)!;
    const what = `${label} ${key} (${OTHER} vs cpu, seed ${SEED})`;
    for (let i = 0; i < e.length; i++) {
      if (!Number.isFinite(e[i])) assert.unreachable(`${what}: cpu element ${i} is ${e[i]} (unwritten output?)`);
      if (!Number.isFinite(a[i])) assert.unreachable(`${what}: ${OTHER} element ${i} is ${a[i]} (unwritten output?)`);
    }
    if (EXACT) {
      const first = e.findIndex((v, i) => !Object.is(v, a[i]));
      assert.is(first, -1, `${what}: differs at element ${first}: ${a[first]} vs ${e[first]}`);
    } else if (routed(key)) {
      const distance = l2(a.map((v, i) => v - e[i])), size = l2(e);
      assert.ok(distance <= ROUTED_RTOL * size, `${what}: relative L2 distance ${(distance / size).toExponential(3)}`);
    } else {
      const d = diff(a, e);
      const scale = sharedScale(key) ? shared : maxAbs(e);
      assert.ok(d.maxAbs <= ATOL + RTOL * scale, `${what}: max abs diff ${d.maxAbs.toExponential(3)} (rel ${d.rel.toExponential(3)})`);
    }
  }
}

function check(c: Case, index: number): void {
  const rng = new Rng(SEED * 131 + index);
  const data = c.inputs.map((inp) => hostData(inp, rng));
  const cpu = runOn('cpu', c, data, SEED + index);
  // On the CPU the second run uses one thread, so thread-count independence is checked too.
  const threads = info().backends.cpu.threads;
  if (EXACT) setNumThreads(1);
  try {
    compare(c.name, cpu, runOn(OTHER, c, data, SEED + index));
  } finally {
    setNumThreads(threads);
  }
}

const f = (...shape: number[]): Input => ({ shape });
const bnState = (C: number): Input[] => [{ shape: [C], grad: false }, { shape: [C], kind: 'positive', grad: false }];

const CASES: Case[] = [
  { name: 'conv2d 3x3 pad 1 + bias', inputs: [f(2, 4, 7, 9), f(6, 4, 3, 3), f(6)], run: ([x, w, b]) => conv2d(x, w, b, { padding: 1 }) },
  { name: 'conv2d grouped, stride 2', inputs: [f(2, 4, 9, 8), f(6, 2, 3, 3), f(6)], run: ([x, w, b]) => conv2d(x, w, b, { stride: 2, padding: 1, groups: 2 }) },
  ...[1, 3, 5].map((k): Case => ({
    name: `conv2d depthwise ${k}x${k}`,
    inputs: [f(2, 8, 6, 5), f(8, 1, k, k)],
    run: ([x, w]) => conv2d(x, w, null, { padding: (k - 1) / 2, groups: 8 }),
  })),
  { name: 'conv2d depthwise 3x3 on a wide map (row kernel)', inputs: [f(2, 3, 4, 40), f(3, 1, 3, 3)], run: ([x, w]) => conv2d(x, w, null, { padding: 1, groups: 3 }) },
  {
    // 18 weight sums and 2 bias sums over 64 x 16 x 16 terms: each cut into parts (two-level reduction on CUDA)
    name: 'conv2d depthwise 3x3 + bias over many planes (split weight and bias reductions)',
    inputs: [f(64, 2, 16, 16), f(2, 1, 3, 3), f(2)],
    run: ([x, w, b]) => conv2d(x, w, b, { padding: 1, groups: 2 }),
  },
  { name: 'conv2d patch 2x2 stride 2', inputs: [f(2, 3, 8, 8), f(5, 3, 2, 2), f(5)], run: ([x, w, b]) => conv2d(x, w, b, { stride: 2 }) },
  { name: 'conv1x1 + bias', inputs: [f(2, 6, 5, 4), f(7, 6, 1, 1), f(7)], run: ([x, w, b]) => conv1x1(x, w, b) },
  { name: 'linear', inputs: [f(5, 12), f(7, 12), f(7)], run: ([x, w, b]) => linear(x, w, b) },
  { name: 'matmul', inputs: [f(4, 6), f(6, 3)], run: ([a, b]) => matmul(a, b) },
  { name: 'bmm', inputs: [f(3, 4, 5), f(3, 5, 2)], run: ([a, b]) => bmm(a, b) },
  { name: 'setSharingFc S=1', inputs: [f(3, 2, 3, 4), f(12, 12, 1, 1)], run: ([x, w]) => setSharingFc(x, w, 1, 3, 4) },
  { name: 'groupedLinear G=4 + bias', inputs: [f(6, 12), f(8, 3), f(8)], run: ([x, w, b]) => groupedLinear(x, w, b, 4) },
  { name: 'maxPool2d 3x3 stride 2 padding 1', inputs: [f(2, 3, 9, 10)], run: ([x]) => maxPool2d(x, 3, { stride: 2, padding: 1 }) },
  { name: 'maxPool2d 2x3 stride (1, 2) padding (1, 0)', inputs: [f(2, 2, 5, 7)], run: ([x]) => maxPool2d(x, [2, 3], { stride: [1, 2], padding: [1, 0] }) },
  { name: 'avgPool2d 7x7 (stride 7)', inputs: [f(2, 3, 14, 21)], run: ([x]) => avgPool2d(x, 7) },
  { name: 'setSharingFc S=4 + bias', inputs: [f(2, 8, 3, 4), f(48, 12, 1, 1), f(48)], run: ([x, w, b]) => setSharingFc(x, w, 4, 3, 4, b) },
  {
    name: 'batchNorm2d train, running stats',
    inputs: [f(4, 3, 5, 6), f(3), f(3), ...bnState(3)],
    run: ([x, w, b, rm, rv]) => batchNorm2d(x, w, b, rm, rv, null, { training: true, momentum: 0.1 }),
  },
  {
    name: 'batchNorm2d train, large channel (two-level reduction)',
    inputs: [f(4, 2, 64, 72), f(2), f(2), ...bnState(2)],
    run: ([x, w, b, rm, rv]) => batchNorm2d(x, w, b, rm, rv, null, { training: true }),
  },
  {
    name: 'batchNorm2d eval',
    inputs: [f(2, 5, 3, 4), f(5), f(5), ...bnState(5)],
    run: ([x, w, b, rm, rv]) => batchNorm2d(x, w, b, rm, rv, null, { training: false }),
  },
  {
    name: 'batchNorm2d train + residual (fused)',
    inputs: [f(3, 4, 9, 7), f(4), f(4), ...bnState(4), f(3, 4, 9, 7)],
    run: ([x, w, b, rm, rv, r]) => batchNorm2d(x, w, b, rm, rv, null, { training: true, residual: r }),
  },
  {
    name: 'batchNorm2d eval + residual (fused)',
    inputs: [f(2, 5, 3, 4), f(5), f(5), ...bnState(5), f(2, 5, 3, 4)],
    run: ([x, w, b, rm, rv, r]) => batchNorm2d(x, w, b, rm, rv, null, { training: false, residual: r }),
  },
  ...(['relu', 'gelu'] as const).flatMap((activation): Case[] => [
    {
      name: `batchNorm2d train + ${activation} (fused)`,
      inputs: [f(3, 4, 9, 7), f(4), f(4), ...bnState(4)],
      run: ([x, w, b, rm, rv]) => batchNorm2d(x, w, b, rm, rv, null, { training: true, activation }),
    },
    {
      name: `batchNorm2d eval + ${activation} (fused)`,
      inputs: [f(2, 5, 3, 4), f(5), f(5), ...bnState(5)],
      run: ([x, w, b, rm, rv]) => batchNorm2d(x, w, b, rm, rv, null, { training: false, activation }),
    },
  ]),
  { name: 'gelu', inputs: [f(10007)], run: ([x]) => gelu(x) },
  { name: 'relu', inputs: [f(3, 1001)], run: ([x]) => relu(x) },
  { name: 'sigmoid', inputs: [f(4099)], run: ([x]) => sigmoid(x) },
  { name: 'silu', inputs: [f(4099)], run: ([x]) => silu(x) },
  { name: 'add broadcast', inputs: [f(2, 3, 4, 5), f(3, 1, 1)], run: ([a, b]) => add(a, b) },
  { name: 'sub broadcast', inputs: [f(2, 1, 4, 5), f(2, 3, 1, 5)], run: ([a, b]) => sub(a, b) },
  { name: 'mul broadcast', inputs: [f(2, 3, 4, 5), f(2, 3, 1, 1)], run: ([a, b]) => mul(a, b) },
  { name: 'mulScalar, addScalar', inputs: [f(3, 7)], run: ([x]) => addScalar(mulScalar(x, -1.5), 0.25) },
  { name: 'sum over dims', inputs: [f(3, 4, 5, 6)], run: ([x]) => sum(x, [0, 2]) },
  { name: 'sum of many (split reduction)', inputs: [f(200003)], run: ([x]) => sum(x) },
  { name: 'sum over leading rows (column reduction)', inputs: [f(4096, 40)], run: ([x]) => sum(x, [0], true) },
  { name: 'mean', inputs: [f(3, 4, 5)], run: ([x]) => mean(x, [1, 2], true) },
  { name: 'expand', inputs: [f(3, 1, 5)], run: ([x]) => expand(x, [2, 3, 4, 5]) },
  { name: 'globalAvgPool', inputs: [f(2, 6, 5, 7)], run: ([x]) => globalAvgPool(x) },
  { name: 'partition', inputs: [f(2, 3, 8, 6)], run: ([x]) => contiguous(partition(x, 4, 3)) },
  { name: 'unpartition', inputs: [f(8, 3, 4, 3)], run: ([x]) => contiguous(unpartition(x, 8, 6)) },
  {
    name: 'unpartitionGate + residual, 3 x 3 partitions',
    inputs: [f(18, 5, 4, 3), f(2, 5, 1, 1), f(2, 5, 12, 9)],
    run: ([y, g, r]) => unpartitionGate(y, g, 12, 9, { residual: r }),
  },
  { name: 'unpartitionGate, one partition', inputs: [f(3, 7, 6, 5), f(3, 7, 1, 1)], run: ([y, g]) => unpartitionGate(y, g, 6, 5) },
  {
    name: 'unpartitionGate + residual, large planes (a block per plane)',
    inputs: [f(4, 2, 32, 24), f(1, 2, 1, 1), f(1, 2, 64, 48)],
    run: ([y, g, r]) => unpartitionGate(y, g, 64, 48, { residual: r }),
  },
  { name: 'permute + contiguous', inputs: [f(2, 3, 4, 5)], run: ([x]) => contiguous(permute(x, [3, 1, 0, 2])) },
  {
    name: 'permute + contiguous, 8 dimensions that do not coalesce',
    inputs: [f(2, 3, 2, 3, 2, 3, 2, 3)],
    run: ([x]) => contiguous(permute(x, [7, 5, 3, 1, 6, 4, 2, 0])),
  },
  {
    name: 'add of two views over 8 dimensions',
    inputs: [f(3, 2, 3, 2, 3, 2, 3, 2), f(2, 3, 2, 3, 2, 3, 3, 1)],
    run: ([a, b]) => add(permute(a, [1, 0, 3, 2, 5, 4, 7, 6]), permute(b, [0, 1, 2, 3, 4, 5, 7, 6])),
  },
  {
    name: 'crossEntropy, hard labels, smoothing 0.1',
    inputs: [f(9, 13), { shape: [9], kind: 'labels', classes: 13 }],
    run: ([z, y]) => crossEntropy(z, y, { labelSmoothing: 0.1 }),
  },
  { name: 'correctCount', inputs: [{ shape: [300, 7], grad: false }, { shape: [300], kind: 'labels', classes: 7 }], run: ([z, y]) => correctCount(z, y) },
  { name: 'crossEntropy, soft targets', inputs: [f(6, 700), { shape: [6, 700], kind: 'probs' }], run: ([z, p]) => crossEntropy(z, p) },
];

CASES.forEach((c, i) => test(c.name, () => check(c, i)));

test('gemm with alpha 0: C = beta * C, NaN in A and B never read', () => {
  const rng = new Rng(SEED * 31);
  const c0 = hostData({ shape: [2, 3, 5] }, rng) as Float32Array;
  const runDevice = (device: Device) =>
    scope(() => {
      const A = full([2, 3, 4], NaN, { device }), B = full([2, 4, 5], NaN, { device });
      const C = tensor(c0, [2, 3, 5], { device });
      // C: (2, 3, 5), A: (2, 3, 4), B: (2, 4, 5), row-major, alpha 0, beta 0.5
      native.gemm_strided_batched({ C: C.storage, A: A.storage, B: B.storage, M: 3, N: 5, K: 4, batch: 2, transA: false, transB: false, alpha: 0, beta: 0.5, offC: 0, ldc: 5, strideC: 15, offA: 0, lda: 4, strideA: 12, offB: 0, ldb: 5, strideB: 20 });
      return new Map([['C', C.toFloat32Array()]]);
    });
  const got = runDevice(OTHER);
  assert.equal(Array.from(got.get('C')!), Array.from(c0, (v) => Math.fround(0.5 * v)), `${OTHER}: C = 0.5 * C`);
  compare('gemm alpha 0', runDevice('cpu'), got);
});

test('gemm_fused: packed B, prologue, bias, GELU, row scale and residual; gemm_pack', () => {
  const rng = new Rng(SEED * 37);
  // C (2 x (7, 19)) over K 300 (two slabs); B: 2 matrices (19, 300) read transposed, packed
  const [M, N, K] = [7, 19, 300];
  const [, nr] = native.runtimeInfo().gemmPanels;
  const size = Math.ceil(N / nr) * nr * K;
  const data = {
    A: hostData({ shape: [2, M, K] }, rng), B: hostData({ shape: [2, N, K] }, rng), scale: hostData({ shape: [2 * M] }, rng),
    shift: hostData({ shape: [2 * M] }, rng), bias: hostData({ shape: [2 * N] }, rng), rs: hostData({ shape: [2 * M] }, rng),
    res: hostData({ shape: [2, M, N] }, rng),
  };
  const runDevice = (device: Device) =>
    scope(() => {
      const t = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, tensor(v as Float32Array, [v.length], { device })]));
      const packed = full([2 * size], NaN, { device }), C = full([2 * M * N], NaN, { device });
      native.gemm_pack({ out: packed.storage, offOut: 0, inp: t.B.storage, offInp: 0, sideB: true, rows: N, K, batch: 2, ld: K, stride: N * K, trans: true });
      native.gemm_fused({
        C: C.storage, offC: 0, ldc: N, strideC: M * N, A: t.A.storage, offA: 0, lda: K, strideA: M * K, transA: false, packedA: false,
        B: packed.storage, offB: 0, ldb: K, strideB: size, transB: true, packedB: true, M, N, K, batch: 2, alpha: 0.5, beta: 0,
        scale: t.scale.storage, offScale: 0, shift: t.shift.storage, offShift: 0, proPeriod: 3, proLd: 2, proStride: 1,
        bias: t.bias.storage, offBias: 0, biasStride: N, biasPerColumn: true, act: 2,
        rowScale: t.rs.storage, offRowScale: 0, rowScaleLd: 2, rowScaleStride: 1, residual: t.res.storage, offResidual: 0, ldr: N, strideR: M * N,
      });
      return new Map([['C', C.toFloat32Array()]]);
    });
  compare('gemm_fused', runDevice('cpu'), runDevice(OTHER));
});

test('compileInference: logits of a partitioned model and of a one-partition one', () => {
  const configs = [
    { ...preset('small', { inChannels: 2, numClasses: 5 }), numBlocks: [1, 1], channels: [8, 16], hs: [4, 2], ws: [2, 2], sharesetsNums: [2, 16] },
    { ...preset('small', { inChannels: 2, numClasses: 5 }), numBlocks: [1, 1], channels: [8, 16], hs: [4, 2], ws: [4, 2], sharesetsNums: [1, 4] },
  ];
  configs.forEach((cfg, k) => {
    const rng = new Rng(SEED * 53 + k);
    const x = hostData({ shape: [3, 2, 8, 8] }, rng);
    const runDevice = (device: Device) =>
      scope(() => {
        const model = new RepMLPNet(cfg, { seed: SEED + k, device }).eval();
        const compiled = compileInference(model);
        const out = new Map([['logits', compiled.run(tensor(x, [3, 2, 8, 8], { device })).toFloat32Array()]]);
        compiled.dispose();
        model.dispose();
        return out;
      });
    const threads = info().backends.cpu.threads;
    const cpu = runDevice('cpu');
    if (EXACT) setNumThreads(1);
    try {
      compare(`compileInference config ${k}`, cpu, runDevice(OTHER));
    } finally {
      setNumThreads(threads);
    }
  });
});

function optimizerCase(name: string, make: (params: Tensor[]) => { step(): void; zeroGrad(): void }, index: number): void {
  test(name, () => {
    const rng = new Rng(SEED * 977 + index);
    // More tensors than one multi-tensor launch takes (24), one larger than a block's chunk.
    const shapes = [[5, 4], [7], [3, 2, 2, 2], [20011], ...Array.from({ length: 26 }, (_, i) => [1 + (i % 5)])];
    const init = shapes.map((s) => hostData({ shape: s }, rng));
    const grads = [0, 1, 2].map(() => shapes.map((s) => hostData({ shape: s }, rng)));
    const runDevice = (device: Device) =>
      scope(() => {
        const params = init.map((d, i) => tensor(d, shapes[i], { device }).requiresGrad_());
        const opt = make(params);
        grads.forEach((step, t) => {
          opt.zeroGrad();
          // Tensor 2 gets no gradient in the first step, so step counts differ between tensors.
          params.forEach((p, i) => (t === 0 && i === 2) || sum(mul(p, tensor(step[i], shapes[i], { device }))).backward());
          opt.step();
        });
        return new Map(params.map((p, i) => [`param ${i}`, p.toFloat32Array()]));
      });
    compare(name, runDevice('cpu'), runDevice(OTHER));
  });
}
optimizerCase('AdamW, weight decay, 3 steps', (p) => new AdamW(p, { lr: 1e-2, weightDecay: 0.05 }), 0);
optimizerCase('SGD, Nesterov momentum, 3 steps', (p) => new SGD(p, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-4 }), 1);

/** A model's training-step logits and parameter gradients, eval logits, and deploy form and logits. */
interface ModelUnderTest {
  forward(x: Tensor): Tensor;
  namedParameters(): [string, Tensor][];
  eval(): unknown;
  localityInjection(): unknown;
  stateDict(): Map<string, { dtype: string; data: Float32Array | BigInt64Array }>;
  dispose(): void;
}

/** routed: the model's ReLUs and max pools route its gradients (see ROUTED_RTOL) */
function modelTest(label: string, build: (device: Device) => ModelUnderTest, xShape: number[], classes: number, routed = false): void {
  test(`${label}: training step outputs and gradients, then Locality Injection`, () => {
    const rng = new Rng(SEED);
    const N = xShape[0];
    const x = hostData({ shape: xShape }, rng);
    const y = hostData({ shape: [N], kind: 'labels', classes }, rng);
    const runDevice = (device: Device) =>
      scope(() => {
        const model = build(device);
        const out = new Map<string, Float32Array>();
        const logits = model.forward(tensor(x, xShape, { device }));
        out.set('train logits', logits.toFloat32Array());
        crossEntropy(logits, tensor(y, [N], { device, dtype: 'int64' })).backward();
        for (const [n, p] of model.namedParameters()) out.set(`grad ${n}`, p.grad!.toFloat32Array());
        model.eval();
        const inp = tensor(x, xShape, { device });
        out.set('eval logits', model.forward(inp).toFloat32Array());
        model.localityInjection();
        out.set('deploy logits', model.forward(inp).toFloat32Array());
        for (const [n, t] of model.stateDict()) if (t.dtype === 'float32') out.set(`deploy ${n}`, Float32Array.from(t.data as Float32Array));
        model.dispose();
        return out;
      });
    // Parameter gradients are compared on the scale of the largest one. Some are sums that
    // cancel to almost nothing (the 1x1 repconv weight just before a training-mode BN, which
    // normalises its scale away), so their own largest value is rounding noise of much larger
    // terms; against it, two float32 summation orders disagree by more than RTOL in about 1 of
    // 100 seeds (measured with PyTorch's float32 CPU kernels in two memory layouts).
    compare(label, runDevice('cpu'), runDevice(OTHER), (key) => key.startsWith('grad '), (key) => routed && key.startsWith('grad '));
  });
}

const smallNet = {
  ...preset('small', { inChannels: 2, numClasses: 5 }),
  numBlocks: [1, 1], channels: [8, 16], hs: [4, 2], ws: [2, 2], sharesetsNums: [2, 4], reparamConvK: [1, 3], partitionOrder: 'paper' as const,
};
modelTest('RepMLPNet', (device) => new RepMLPNet(smallNet, { seed: SEED, device }), [3, 2, 8, 8], 5);
const smallResNet: RepMLPResNetConfig = {
  arch: 'RepMLPResNet', numBlocks: [1, 2, 2, 1], numClasses: 5, blockType: 'light', imgH: 64, imgW: 32, h: 4, w: 2,
  reparamConvK: [1, 3], fc1Fc2Reduction: 2, fc3Groups: 2, stemChannels: 8, channels: [16, 32, 32, 32],
};
modelTest('RepMLPResNet light', (device) => new RepMLPResNet(smallResNet, { seed: SEED, device }), [4, 3, 64, 32], 5, true);
modelTest('RepMLPResNet bottleneck', (device) => new RepMLPResNet({ ...smallResNet, blockType: 'bottleneck', channels: [16, 64, 64, 32], fc3Groups: 4 }, { seed: SEED, device }), [4, 3, 64, 32], 5, true);

test.run();
