// GEMM throughput on the CPU: the native strided-batched GEMM against a naive triple loop
// (plain TypeScript over Float32Arrays), in GFLOP/s. Run: npx tsx bench/gemm.ts
import { native, type NativeStorage } from '../lib/native';

interface Case {
  name: string;
  M: number;
  N: number;
  K: number;
  batch: number;
  transA?: boolean;
  transB?: boolean;
  // leading dimensions and strides (default: dense, separate matrices)
  lda?: number;
  strideA?: number;
  ldb?: number;
  strideB?: number;
  ldc?: number;
  strideC?: number;
}

// The set-sharing FC of RepMLPNet-T224 at batch 32: share-set s of x (R, S*hw) is a column
// block with leading dimension S*hw; W_s (hw, hw) is used transposed.
function setSharing(name: string, B: number, C: number, S: number, hw: number): Case {
  const R = (B * C) / S;
  return { name, M: R, N: hw, K: hw, batch: S, transB: true, lda: S * hw, strideA: hw, ldb: hw, strideB: hw * hw, ldc: S * hw, strideC: hw };
}

const cases: Case[] = [
  { name: '256^3', M: 256, N: 256, K: 256, batch: 1 },
  { name: '1024^3', M: 1024, N: 1024, K: 1024, batch: 1 },
  { name: '1024^3 A^T B^T', M: 1024, N: 1024, K: 1024, batch: 1, transA: true, transB: true },
  setSharing('set-sharing T224 stage 3 (B=32, C=256, S=16, 14x14)', 32, 256, 16, 196),
  setSharing('set-sharing T224 stage 4 (B=32, C=512, S=128, 7x7)', 32, 512, 128, 49),
  { name: 'conv1x1 FFN 256->1024 at 14x14, batch 32', M: 1024, N: 196, K: 256, batch: 32, strideA: 0 },
];

function filled(n: number): NativeStorage {
  const s = new native.Storage('cpu', 'float32', Math.max(n, 1));
  const h = new Float32Array(Math.max(n, 1));
  for (let i = 0; i < h.length; i++) h[i] = Math.sin(i * 0.37);
  s.write(h);
  return s;
}

function layout(c: Case) {
  const lda = c.lda ?? (c.transA ? c.M : c.K), ldb = c.ldb ?? (c.transB ? c.K : c.N), ldc = c.ldc ?? c.N;
  const strideA = c.strideA ?? (c.transA ? c.K : c.M) * lda;
  const strideB = c.strideB ?? (c.transB ? c.N : c.K) * ldb;
  const strideC = c.strideC ?? c.M * ldc;
  const ext = (rows: number, ld: number, stride: number) => (c.batch - 1) * stride + rows * ld;
  return {
    lda, ldb, ldc, strideA, strideB, strideC,
    nA: ext(c.transA ? c.K : c.M, lda, strideA),
    nB: ext(c.transB ? c.N : c.K, ldb, strideB),
    nC: ext(c.M, ldc, strideC),
  };
}

function timeIt(fn: () => void, minSeconds: number): number {
  fn(); // warm up
  let reps = 0;
  const t0 = process.hrtime.bigint();
  let elapsed = 0;
  do {
    fn();
    reps++;
    elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  } while (elapsed < minSeconds);
  return elapsed / reps;
}

// The reference: C_b[i, j] = sum_k opA_b[i, k] * opB_b[k, j], one dot product per element.
function naive(c: Case, L: ReturnType<typeof layout>, A: Float32Array, B: Float32Array, C: Float32Array): void {
  for (let b = 0; b < c.batch; b++)
    for (let i = 0; i < c.M; i++)
      for (let j = 0; j < c.N; j++) {
        let s = 0;
        for (let k = 0; k < c.K; k++) {
          const a = c.transA ? A[b * L.strideA + k * L.lda + i] : A[b * L.strideA + i * L.lda + k];
          const bv = c.transB ? B[b * L.strideB + j * L.ldb + k] : B[b * L.strideB + k * L.ldb + j];
          s += a * bv;
        }
        C[b * L.strideC + i * L.ldc + j] = s;
      }
}

console.log(`threads: ${native.runtimeInfo().threads}`);
console.log('case'.padEnd(58) + 'native GFLOP/s'.padStart(16) + 'naive GFLOP/s'.padStart(16) + 'speed-up'.padStart(10));
for (const c of cases) {
  const L = layout(c);
  const sA = filled(L.nA), sB = filled(L.nB), sC = filled(L.nC);
  const flops = 2 * c.M * c.N * c.K * c.batch;
  const tNative = timeIt(
    () => native.gemm_strided_batched(sC, sA, sB, c.M, c.N, c.K, c.batch, !!c.transA, !!c.transB, 1, 0,
      0, L.ldc, L.strideC, 0, L.lda, L.strideA, 0, L.ldb, L.strideB),
    1.0,
  );
  const A = sA.read() as Float32Array, B = sB.read() as Float32Array, C = new Float32Array(L.nC);
  const tNaive = timeIt(() => naive(c, L, A, B, C), 0.2);
  const g1 = flops / tNative / 1e9, g0 = flops / tNaive / 1e9;
  console.log(c.name.padEnd(58) + g1.toFixed(1).padStart(16) + g0.toFixed(2).padStart(16) + `${(g1 / g0).toFixed(0)}x`.padStart(10));
  for (const s of [sA, sB, sC]) s.dispose();
}
