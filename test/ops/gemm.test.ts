import { test } from 'uvu';
import { bmm, matmul, Rng, tensor } from '../../lib/index';
import { native, type NativeStorage } from '../../lib/native';
import { assertClose, assertThrows, DEVICE, fixture, forEachCpuIsa, gradcheck, randomInput } from '../helpers';
import { assertMatchesTorch, assertNoLeakInScope, randomTensors } from './harness';

// ---- the raw strided-batched GEMM against a float64 triple loop ----

interface Layout {
  M: number;
  N: number;
  K: number;
  batch?: number;
  transA?: boolean;
  transB?: boolean;
  alpha?: number;
  beta?: number;
  offA?: number;
  offB?: number;
  offC?: number;
  padA?: number; // extra elements per row (lda = cols + pad)
  padB?: number;
  padC?: number;
  strideA?: number; // default: dense matrices one after another
  strideB?: number;
  strideC?: number;
}

function storage(data: Float32Array): NativeStorage {
  const s = new native.Storage(DEVICE, 'float32', data.length);
  s.write(data);
  return s;
}

function randomArray(n: number, rng: Rng): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal();
  return a;
}

/**
 * Runs the native GEMM on random operands and checks every element of C's storage (also the
 * ones between and after the matrices, which must stay untouched). cFill: C's matrices'
 * initial value instead of random numbers. strideC 0 with batch > 1: one C, the batch summed.
 */
function checkGemm(name: string, L: Layout, rng: Rng, cFill?: number): void {
  const { M, N, K } = L;
  const batch = L.batch ?? 1, transA = !!L.transA, transB = !!L.transB;
  const alpha = L.alpha ?? 1, beta = L.beta ?? 0;
  const [rA, cA] = transA ? [K, M] : [M, K];
  const [rB, cB] = transB ? [N, K] : [K, N];
  const lda = Math.max(1, cA + (L.padA ?? 0)), ldb = Math.max(1, cB + (L.padB ?? 0)), ldc = Math.max(1, N + (L.padC ?? 0));
  const strideA = L.strideA ?? rA * lda, strideB = L.strideB ?? rB * ldb, strideC = L.strideC ?? M * ldc;
  const offA = L.offA ?? 0, offB = L.offB ?? 0, offC = L.offC ?? 0;
  const extent = (rows: number, ld: number, stride: number) => (batch - 1) * stride + rows * ld;
  const a = randomArray(offA + extent(rA, lda, strideA), rng);
  const b = randomArray(offB + extent(rB, ldb, strideB), rng);
  const c0 = randomArray(offC + extent(M, ldc, strideC) + 3, rng);
  if (cFill !== undefined)
    for (let p = 0; p < batch; p++)
      for (let i = 0; i < M; i++) c0.fill(cFill, offC + p * strideC + i * ldc, offC + p * strideC + i * ldc + N);
  const sA = storage(a), sB = storage(b), sC = storage(c0);
  native.gemm_strided_batched({ C: sC, A: sA, B: sB, M, N, K, batch, transA, transB, alpha, beta, offC, ldc, strideC, offA, lda, strideA, offB, ldb, strideB });
  const got = sC.read() as Float32Array;
  const want = Float64Array.from(c0);
  const sumBatch = strideC === 0 && batch > 1;
  for (let c = 0; c < (sumBatch ? 1 : batch); c++)
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let p = sumBatch ? 0 : c; p < (sumBatch ? batch : c + 1); p++)
          for (let k = 0; k < K; k++) {
            const av = transA ? a[offA + p * strideA + k * lda + i] : a[offA + p * strideA + i * lda + k];
            const bv = transB ? b[offB + p * strideB + j * ldb + k] : b[offB + p * strideB + k * ldb + j];
            s += av * bv;
          }
        const at = offC + c * strideC + i * ldc + j;
        want[at] = beta === 0 ? alpha * s : alpha * s + beta * c0[at];
      }
  assertClose(`gemm ${name}`, got, want);
  for (const s of [sA, sB, sC]) s.dispose();
}

const combos: [boolean, boolean][] = [[false, false], [true, false], [false, true], [true, true]];

test('gemm: all transpose combinations, odd sizes, sizes across the cache blocks', () => forEachCpuIsa((isa) => {
  const rng = new Rng(1);
  for (const [transA, transB] of combos) {
    const tag = `${transA ? 'T' : 'N'}${transB ? 'T' : 'N'}`;
    checkGemm(`${tag} 1x1x1`, { M: 1, N: 1, K: 1, transA, transB }, rng);
    checkGemm(`${tag} 17x33x5`, { M: 17, N: 33, K: 5, transA, transB }, rng);
    checkGemm(`${tag} 7x5x300 (K over one slab)`, { M: 7, N: 5, K: 300, transA, transB }, rng);
    checkGemm(`${tag} 151x23x9`, { M: 151, N: 23, K: 9, transA, transB }, rng);
    // the AVX-512 kernel's 32-column tiles, then one 16-column panel and a narrow one
    checkGemm(`${isa} ${tag} 14x53x30`, { M: 14, N: 53, K: 30, transA, transB }, rng);
    // one 16-column panel: its 12 x 16 tiles, then 6 x 16, then the short rows
    checkGemm(`${isa} ${tag} 29x16x33`, { M: 29, N: 16, K: 33, transA, transB }, rng);
    checkGemm(`${isa} ${tag} 20x48x17`, { M: 20, N: 48, K: 17, transA, transB }, rng);
  }
  // N over one column block, K over one slab, M cut into several row blocks.
  checkGemm('NN 13x1030x261', { M: 13, N: 1030, K: 261 }, rng);
  checkGemm('TN batch 9 of 300x20x7', { M: 300, N: 20, K: 7, batch: 9, transA: true }, rng);
}));

test('gemm: batches with a shared operand (stride 0), offsets and padded leading dimensions', () => forEachCpuIsa(() => {
  const rng = new Rng(2);
  for (const [transA, transB] of combos) {
    const tag = `${transA ? 'T' : 'N'}${transB ? 'T' : 'N'}`;
    checkGemm(`${tag} shared A`, { M: 9, N: 14, K: 11, batch: 4, transA, transB, strideA: 0 }, rng);
    checkGemm(`${tag} shared B`, { M: 9, N: 14, K: 11, batch: 3, transA, transB, strideB: 0, offB: 5 }, rng);
    checkGemm(`${tag} offsets and padding`, {
      M: 8, N: 19, K: 6, batch: 2, transA, transB, offA: 3, offB: 7, offC: 11, padA: 2, padB: 5, padC: 4,
    }, rng);
  }
  // Interleaved matrices: column blocks of one wide matrix (the set-sharing layout).
  checkGemm('interleaved column blocks', {
    M: 10, N: 6, K: 6, batch: 4, transB: true, padA: 18, strideA: 6, padC: 18, strideC: 6,
  }, rng);
  checkGemm('interleaved wide column blocks', {
    M: 12, N: 40, K: 9, batch: 3, transB: true, padA: 80, strideA: 40, padC: 80, strideC: 40,
  }, rng);
}));

test('gemm: strideC 0 sums the batch into one C (a weight gradient over images)', () => forEachCpuIsa((isa) => {
  const rng = new Rng(4);
  for (const [transA, transB] of combos) {
    const tag = `${isa} ${transA ? 'T' : 'N'}${transB ? 'T' : 'N'}`;
    checkGemm(`${tag} batch 5 of 9x14x11`, { M: 9, N: 14, K: 11, batch: 5, transA, transB, strideC: 0 }, rng);
    // slabs of K within each matrix, beta applied once, and row blocks split over the threads
    checkGemm(`${tag} batch 3 of 150x40x300, beta 0.5`, { M: 150, N: 40, K: 300, batch: 3, transA, transB, strideC: 0, beta: 0.5, alpha: 0.75 }, rng);
  }
  // the 1x1 conv's weight gradient: the sum of dout[n] (Cout, HW) @ x[n]^T
  checkGemm('NT batch 6 of 40x24x64, offsets and padding', {
    M: 40, N: 24, K: 64, batch: 6, transB: true, strideC: 0, offA: 3, offB: 5, offC: 7, padC: 2,
  }, rng);
  checkGemm('beta 0 over NaN', { M: 7, N: 18, K: 30, batch: 4, strideC: 0 }, rng, NaN);
  checkGemm('K = 0, beta 3: C scaled once', { M: 3, N: 4, K: 0, batch: 3, strideC: 0, beta: 3 }, rng);
}));

test('gemm: alpha and beta; beta = 0 ignores NaN in C; K = 0 scales C', () => forEachCpuIsa(() => {
  const rng = new Rng(3);
  for (const [transA, transB] of combos) {
    checkGemm('alpha -2, beta 0.5', { M: 13, N: 21, K: 8, batch: 2, transA, transB, alpha: -2, beta: 0.5 }, rng);
    checkGemm('beta 1 accumulates', { M: 6, N: 16, K: 300, transA, transB, beta: 1 }, rng);
  }
  checkGemm('beta 0 over NaN', { M: 7, N: 18, K: 300, beta: 0 }, rng, NaN);
  checkGemm('beta 0 over NaN, K = 0', { M: 3, N: 4, K: 0, beta: 0 }, rng, NaN);
  checkGemm('K = 0, beta 3', { M: 3, N: 4, K: 0, batch: 2, beta: 3 }, rng);
  checkGemm('empty M', { M: 0, N: 4, K: 5 }, rng);
  checkGemm('beta 0.5 over two slabs, wide tiles', { M: 18, N: 64, K: 300, beta: 0.5, alpha: 0.75 }, rng);
}));

test('gemm: the binding rejects bad arguments', () => {
  const s = (n: number) => new native.Storage(DEVICE, 'float32', n);
  const A = s(12), B = s(20), C = s(15);
  // C (3x5) = A (3x4) @ B (4x5)
  const call = (over: Partial<Record<string, unknown>>) => {
    const v = { C, A, B, M: 3, N: 5, K: 4, batch: 1, transA: false, transB: false, alpha: 1, beta: 0,
      offC: 0, ldc: 5, strideC: 0, offA: 0, lda: 4, strideA: 0, offB: 0, ldb: 5, strideB: 0, ...over };
    (native.gemm_strided_batched as unknown as (p: unknown) => void)(v);
  };
  call({}); // the valid call
  assertThrows(() => call({ offA: 1 }), /gemm_strided_batched: expected a storage of at least 13 elements for A but received one of 12/);
  assertThrows(() => call({ K: 5, lda: 5 }), /gemm_strided_batched: expected a storage of at least 15 elements for A but received one of 12/);
  assertThrows(() => call({ batch: 2, strideC: 15 }), /expected a storage of at least 30 elements for C but received one of 15/);
  assertThrows(() => call({ lda: 3 }), /gemm_strided_batched: expected a leading dimension >= 4 for lda but received 3/);
  assertThrows(() => call({ transA: true, lda: 2 }), /expected a leading dimension >= 3 for lda but received 2/);
  assertThrows(() => call({ ldc: 4 }), /expected a leading dimension >= max\(1, N\) = 5 for ldc but received 4/);
  assertThrows(() => call({ A: C }), /expected an output that does not overlap A for C/);
  assertThrows(() => call({ M: -1 }), /expected a non-negative integer below 2\^53 for M but received -1/);
  assertThrows(() => call({ transB: 1 }), /expected a boolean for transB but received a number/);
  assertThrows(() => call({ B: 'x' }), /expected a Storage for B but received a string/);
  assertThrows(() => (native.gemm_strided_batched as unknown as () => void)(), /gemm_strided_batched: expected 1 argument \(an object of named fields\) but received 0/);
  assertThrows(() => (native.gemm_strided_batched as unknown as (...a: unknown[]) => void)(C, A, B), /gemm_strided_batched: expected 1 argument \(an object of named fields\) but received 3/);
  assertThrows(() => (native.gemm_strided_batched as unknown as (a: unknown) => void)([C, A, B]), /gemm_strided_batched: expected an object of named fields but received an array/);
  // A field left out (or misspelt) is refused, never defaulted.
  const { ldb: _, ...noLdb } = { C, A, B, M: 3, N: 5, K: 4, batch: 1, transA: false, transB: false, alpha: 1, beta: 0,
    offC: 0, ldc: 5, strideC: 0, offA: 0, lda: 4, strideA: 0, offB: 0, ldb: 5, strideB: 0 };
  assertThrows(() => (native.gemm_strided_batched as unknown as (a: unknown) => void)({ ...noLdb, ldB: 5 }), /gemm_strided_batched: expected a number for ldb but received undefined/);
  for (const t of [A, B, C]) t.dispose();
});

// ---- matmul and bmm ----

const golden = fixture('gemm');

test('matmul, bmm: forward and gradients match PyTorch', () => {
  for (const op of ['matmul', 'bmm'] as const)
    assertMatchesTorch({ golden, prefix: op, name: op, grads: { a: 'da', b: 'db' } }, ({ a, b }) => (op === 'matmul' ? matmul(a, b) : bmm(a, b)));
});

// float64 references: (B, M, K) @ (B, K, N)
function refBmm(a: Float64Array, b: Float64Array, B: number, M: number, K: number, N: number): Float64Array {
  const y = new Float64Array(B * M * N);
  for (let p = 0; p < B; p++)
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += a[(p * M + i) * K + k] * b[(p * K + k) * N + j];
        y[(p * M + i) * N + j] = s;
      }
  return y;
}

function transposeHost(x: Float64Array, B: number, R: number, C: number): Float64Array {
  const t = new Float64Array(x.length);
  for (let p = 0; p < B; p++)
    for (let i = 0; i < R; i++)
      for (let j = 0; j < C; j++) t[(p * C + j) * R + i] = x[(p * R + i) * C + j];
  return t;
}

test('matmul, bmm: float64 reference and finite differences', () => {
  const rng = new Rng(4);
  gradcheck({
    name: 'matmul', rng,
    inputs: [randomInput([6, 11], rng), randomInput([11, 17], rng)],
    op: ([a, b]) => matmul(a, b),
    ref: ([a, b]) => refBmm(a, b, 1, 6, 11, 17),
  });
  gradcheck({
    name: 'bmm', rng,
    inputs: [randomInput([3, 5, 7], rng), randomInput([3, 7, 4], rng)],
    op: ([a, b]) => bmm(a, b),
    ref: ([a, b]) => refBmm(a, b, 3, 5, 7, 4),
  });
  // Transposed views go to the GEMM as transposed operands; gradients flow back through permute.
  gradcheck({
    name: 'matmul of transposed views', rng,
    inputs: [randomInput([9, 4], rng), randomInput([13, 9], rng)],
    op: ([a, b]) => matmul(a.permute(1, 0), b.permute(1, 0)),
    ref: ([a, b]) => refBmm(transposeHost(a, 1, 9, 4), transposeHost(b, 1, 13, 9), 1, 4, 9, 13),
  });
  // A view no GEMM layout can read ((M, K, B) permuted to (B, M, K): no unit stride in
  // the matrix axes) is copied first.
  gradcheck({
    name: 'bmm of a permuted view', rng,
    inputs: [randomInput([3, 6, 2], rng), randomInput([2, 6, 5], rng)],
    op: ([a, b]) => bmm(a.permute(2, 0, 1), b),
    ref: ([a, b]) => {
      const ap = new Float64Array(36);
      for (let i = 0; i < 3; i++) for (let k = 0; k < 6; k++) for (let p = 0; p < 2; p++) ap[(p * 3 + i) * 6 + k] = a[(i * 6 + k) * 2 + p];
      return refBmm(ap, b, 2, 3, 6, 5);
    },
  });
});

test('matmul, bmm: reject bad input with a clear message', () => {
  const a = tensor(new Float32Array(6), [2, 3], { device: DEVICE });
  const b = tensor(new Float32Array(8), [4, 2], { device: DEVICE });
  const c = tensor(new Float32Array(24), [2, 3, 4], { device: DEVICE });
  assertThrows(() => matmul(a, b), /matmul: expected shape \(3, \*\) for b but received shape \(4, 2\)/);
  assertThrows(() => matmul(c, b), /matmul: expected a 2-d tensor for a but received shape \(2, 3, 4\)/);
  assertThrows(() => bmm(a, c), /bmm: expected a 3-d tensor for a but received shape \(2, 3\)/);
  const d = tensor(new Float32Array(24), [3, 4, 2], { device: DEVICE });
  assertThrows(() => bmm(c, d), /bmm: expected shape \(2, 4, \*\) for b but received shape \(3, 4, 2\)/);
  assertThrows(() => matmul(a, null as never), /matmul: expected a Tensor for b but received null/);
  for (const t of [a, b, c, d]) t.dispose();
});

test('matmul, bmm: no leaks in a scope', () => {
  assertNoLeakInScope('matmul', () => {
    const rng = new Rng(5);
    const [a, b] = randomTensors(rng, [3, 4], [5, 4]);
    matmul(a, b.permute(1, 0)).backward(tensor(randomArray(15, rng), [3, 5], { device: DEVICE }));
    const [c] = randomTensors(rng, [3, 4, 2]);
    const cv = c.permute(2, 0, 1); // (2, 3, 4), copied for the GEMM
    bmm(cv, cv.permute(0, 2, 1)).backward(tensor(randomArray(18, rng), [2, 3, 3], { device: DEVICE }));
  }, 5);
});

test.run();
