// GEMM throughput on the CPU: the native strided-batched GEMM on each kernel the CPU can run
// (AVX-512 and AVX2 on an AVX-512 CPU) against a naive triple loop (plain TypeScript over
// Float32Arrays), in GFLOP/s, timed with the benchmarks' harness (bench/lib/stats.ts).
// Run: npm run bench:gemm [-- --threads N]
import { native, type NativeStorage } from '../lib/native';
import { cpuIsas, setCpuIsa, setNumThreads } from '../lib/info';
import { intOption, parseOptions } from './lib/args';
import { measure } from './lib/stats';
import { formatTable } from './lib/table';

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
  // training shapes of cifar: a 1x1 conv's forward over a batch (the weight shared), and its
  // weight gradient dY X^T over the whole batch (both operands K-contiguous)
  { name: 'conv1x1 FFN 256->1024 at 8x8, batch 64 (cifar)', M: 1024, N: 64, K: 256, batch: 64, strideA: 0 },
  { name: 'weight gradient A B^T, 128x512, K = 64*16*16 (cifar)', M: 128, N: 512, K: 16384, batch: 1, transB: true },
  // few rows of C: the last 6-row panel is a short one (64 = 10 * 6 + 4, 32 = 5 * 6 + 2)
  { name: 'conv1x1 256->64 at 56x56, batch 8 (T224 stage 1)', M: 64, N: 3136, K: 256, batch: 8, strideA: 0 },
  { name: 'conv1x1 128->32 at 16x16, batch 16 (small stage 1)', M: 32, N: 256, K: 128, batch: 16, strideA: 0 },
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

const v = parseOptions('bench:gemm', process.argv.slice(2), {});
const threads = intOption('bench:gemm', v, 'threads', { min: 1, max: 64 });
if (threads !== undefined) setNumThreads(threads);
const isas = cpuIsas();
console.log(`threads: ${native.runtimeInfo().threads}; GEMM kernels: ${isas.join(', ')}`);
const rows: string[][] = [];
for (const c of cases) {
  const L = layout(c);
  const sA = filled(L.nA), sB = filled(L.nB), sC = filled(L.nC);
  const flops = 2 * c.M * c.N * c.K * c.batch;
  const gflops = isas.map((isa) => {
    if (isa !== 'baseline') setCpuIsa(isa);
    const ms = measure(
      () => native.gemm_strided_batched({ C: sC, A: sA, B: sB, M: c.M, N: c.N, K: c.K, batch: c.batch, transA: !!c.transA, transB: !!c.transB, alpha: 1, beta: 0, offC: 0, ldc: L.ldc, strideC: L.strideC, offA: 0, lda: L.lda, strideA: L.strideA, offB: 0, ldb: L.ldb, strideB: L.strideB }),
      () => {},
      { warmup: 2, repeats: 10, minSampleMs: 100 },
    ).ms;
    return flops / ms / 1e6;
  });
  const A = sA.read() as Float32Array, B = sB.read() as Float32Array, C = new Float32Array(L.nC);
  const tNaive = measure(() => naive(c, L, A, B, C), () => {}, { warmup: 0, repeats: 1, minSampleMs: 0 }).ms;
  const g0 = flops / tNaive / 1e6;
  rows.push([c.name, ...gflops.map((g) => g.toFixed(1)), g0.toFixed(2), `${(gflops[0] / g0).toFixed(0)}x`]);
  for (const s of [sA, sB, sC]) s.dispose();
}
console.log(formatTable(
  ['case', ...isas.map((isa) => `${isa} GFLOP/s`), 'naive GFLOP/s', `${isas[0]} speed-up`].map((header, i) => ({ header, cell: (r: string[]) => r[i], align: i ? 'right' as const : 'left' as const })),
  rows,
));
