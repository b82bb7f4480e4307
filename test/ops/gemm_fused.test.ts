// The fused GEMM (native gemm_fused) and the packed layout (gemm_pack) against a float64
// reference of ops/gemm.h's semantics: packed operands, the prologue's row affine, and the
// epilogue's bias, activation, row scale and residual, on random layouts (offsets, padded
// rows, interleaved and shared matrices), across the kernel's slab and column-block edges.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Rng } from '../../lib/index';
import { native, type GemmFusedArgs, type NativeStorage } from '../../lib/native';
import { assertClose, assertThrows, DEVICE, forEachCpuIsa, liveStorages } from '../helpers';
import { geluRef, sigmoidRef } from './elementwise-ref';

const ACTS = [(v: number) => v, (v: number) => (v <= 0 ? 0 : v), geluRef, sigmoidRef];

function storage(data: Float32Array): NativeStorage {
  const s = new native.Storage(DEVICE, 'float32', data.length);
  if (data.length) s.write(data);
  return s;
}

function randomArray(n: number, rng: Rng, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = scale * rng.normal();
  return a;
}

interface Case {
  M: number;
  N: number;
  K: number;
  batch: number;
  transA: boolean;
  transB: boolean;
  packA: boolean;
  packB: boolean;
  sharedA: boolean;
  sharedB: boolean;
  alpha: number;
  beta: number;
  pad: number;
  prologue: boolean;
  period: number;
  bias: 'none' | 'row' | 'col';
  act: number;
  rowScale: boolean;
  residual: boolean;
}

/** One operand: its host data and how the GEMM reads it. */
interface Operand {
  data: Float32Array;
  off: number;
  ld: number;
  stride: number;
  trans: boolean;
}

function operand(rng: Rng, rows: number, cols: number, batch: number, trans: boolean, shared: boolean, pad: number): Operand {
  const [r, c] = trans ? [cols, rows] : [rows, cols];
  const ld = Math.max(1, c + pad), off = pad;
  const stride = shared ? 0 : r * ld + pad;
  return { data: randomArray(off + (batch - 1) * stride + r * ld, rng), off, ld, stride, trans };
}

/** op(X)(b, i, k) of an operand of (rows, cols) after op. */
const at = (o: Operand, b: number, i: number, k: number) => o.data[o.off + b * o.stride + (o.trans ? k * o.ld + i : i * o.ld + k)];

/** The packed copy of an operand (gemm_pack), as a storage, and its stride between matrices. */
function pack(o: Operand, sideB: boolean, rows: number, K: number, batch: number, shared: boolean): { s: NativeStorage; stride: number } {
  const [pa, pb] = native.runtimeInfo().gemmPanels;
  const w = sideB ? pb : pa, size = Math.ceil(rows / w) * w * K;
  const n = shared ? 1 : batch;
  const out = new native.Storage(DEVICE, 'float32', n * size + 2);
  const inp = storage(o.data);
  native.gemm_pack({ out, offOut: 0, inp, offInp: o.off, sideB, rows, K, batch: n, ld: o.ld, stride: o.stride, trans: o.trans });
  inp.dispose();
  return { s: out, stride: shared ? 0 : size };
}

function runCase(name: string, c: Case, rng: Rng): void {
  const { M, N, K, batch } = c;
  const A = operand(rng, M, K, batch, c.transA, c.sharedA, c.pad);
  const B = operand(rng, K, N, batch, c.transB, c.sharedB, c.pad);
  const ldc = N + c.pad, strideC = M * ldc + c.pad, offC = c.pad;
  const cLen = offC + (batch - 1) * strideC + M * ldc + 3;
  const c0 = randomArray(cLen, rng);
  const vecLen = (n: number) => batch * n + 5;
  const scale = randomArray(vecLen(M), rng, 0.5), shift = randomArray(vecLen(M), rng, 0.5);
  const bias = randomArray(vecLen(Math.max(M, N)), rng), rs = randomArray(vecLen(2 * M), rng);
  const ldr = N + 1, strideR = M * ldr, res = randomArray((batch - 1) * strideR + M * ldr + 1, rng);
  // prologue index (i % period) * 2 + b; bias b * stride + i | j; row scale b + i * 2
  const pv = (b: number, i: number) => (i % c.period) * 2 + b;
  const biasStride = Math.max(M, N);
  const want = Float64Array.from(c0);
  for (let b = 0; b < batch; b++)
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) {
          const a = c.prologue ? scale[pv(b, i)] * at(A, b, i, k) + shift[pv(b, i)] : at(A, b, i, k);
          s += Math.fround(a) * at(B, b, k, j);
        }
        const o = offC + b * strideC + i * ldc + j;
        let v = c.alpha * s + (c.beta === 0 ? 0 : c.beta * c0[o]);
        if (c.bias !== 'none') v += bias[b * biasStride + (c.bias === 'col' ? j : i)];
        v = ACTS[c.act](v);
        if (c.rowScale) v *= rs[b + i * 2];
        if (c.residual) v += res[b * strideR + i * ldr + j];
        want[o] = v;
      }
  const sA = c.packA ? pack(A, false, M, K, batch, c.sharedA) : null;
  const sB = c.packB ? pack(B, true, N, K, batch, c.sharedB) : null;
  const st = { A: sA?.s ?? storage(A.data), B: sB?.s ?? storage(B.data), C: storage(c0) };
  const vs = { scale: storage(scale), shift: storage(shift), bias: storage(bias), rs: storage(rs), res: storage(res) };
  const args: GemmFusedArgs = {
    C: st.C, offC, ldc, strideC, M, N, K, batch, alpha: c.alpha, beta: c.beta,
    A: st.A, offA: sA ? 0 : A.off, lda: A.ld, strideA: sA ? sA.stride : A.stride, transA: A.trans, packedA: c.packA,
    B: st.B, offB: sB ? 0 : B.off, ldb: B.ld, strideB: sB ? sB.stride : B.stride, transB: B.trans, packedB: c.packB,
    scale: c.prologue ? vs.scale : null, offScale: 0, shift: c.prologue ? vs.shift : null, offShift: 0, proPeriod: c.period, proLd: 2, proStride: 1,
    bias: c.bias === 'none' ? null : vs.bias, offBias: 0, biasStride, biasPerColumn: c.bias === 'col', act: c.act,
    rowScale: c.rowScale ? vs.rs : null, offRowScale: 0, rowScaleLd: 2, rowScaleStride: 1,
    residual: c.residual ? vs.res : null, offResidual: 0, ldr, strideR,
  };
  native.gemm_fused(args);
  assertClose(`gemm_fused ${name}`, st.C.read() as Float32Array, want, { rtol: 1e-5, atol: 1e-5 });
  for (const s of [...Object.values(st), ...Object.values(vs)]) s.dispose();
}

function randomCase(rng: Rng, sizes: { M: number; N: number; K: number; batch: number }): Case {
  const pick = <T>(xs: T[]) => xs[rng.int(xs.length)];
  const packA = rng.uniform() < 0.5;
  return {
    ...sizes,
    transA: rng.uniform() < 0.5, transB: rng.uniform() < 0.5, packA, packB: rng.uniform() < 0.5,
    sharedA: rng.uniform() < 0.3, sharedB: rng.uniform() < 0.3,
    alpha: pick([1, 0.25, -1.5]), beta: pick([0, 0, 1, 0.5]), pad: rng.int(3),
    prologue: !packA && rng.uniform() < 0.6, period: 1 + rng.int(sizes.M + 1),
    bias: pick(['none', 'row', 'col'] as const), act: rng.int(4), rowScale: rng.uniform() < 0.5, residual: rng.uniform() < 0.5,
  };
}

test('gemm_fused: random layouts, every prologue / epilogue combination, against float64', () => forEachCpuIsa(() => {
  const rng = new Rng(11);
  for (let t = 0; t < 60; t++) {
    const c = randomCase(rng, { M: 1 + rng.int(20), N: 1 + rng.int(t % 3 ? 40 : 100), K: 1 + rng.int(24), batch: 1 + rng.int(3) });
    runCase(`#${t} ${JSON.stringify(c)}`, c, rng);
  }
}));

test('gemm_fused: the epilogue runs once, after the last slab and on every column block', () => forEachCpuIsa(() => {
  const rng = new Rng(12);
  // K over two slabs of 256, N over the 1024-column block, M over several row blocks
  for (const sizes of [{ M: 7, N: 20, K: 530, batch: 1 }, { M: 3, N: 1040, K: 9, batch: 2 }, { M: 301, N: 17, K: 40, batch: 1 }]) {
    for (const act of [0, 2]) {
      const c = { ...randomCase(rng, sizes), act, bias: 'col' as const, residual: true, rowScale: true };
      runCase(`${JSON.stringify(sizes)} act ${act}`, c, rng);
    }
  }
}));

test('gemm_fused: K = 0 applies the epilogue to beta * C', () => {
  const rng = new Rng(13);
  for (const beta of [0, 2]) runCase(`K 0 beta ${beta}`, { ...randomCase(rng, { M: 4, N: 19, K: 0, batch: 2 }), beta, prologue: false, bias: 'row', act: 2 }, rng);
});

test('gemm_pack: a packed operand gives what the plain one gives', () => forEachCpuIsa(() => {
  const rng = new Rng(14);
  for (const [sizes, transA, transB] of [[{ M: 13, N: 35, K: 300, batch: 2 }, false, true], [{ M: 6, N: 16, K: 5, batch: 3 }, true, false]] as const) {
    const base = { ...randomCase(rng, sizes), transA, transB, prologue: false };
    runCase('plain', { ...base, packA: false, packB: false }, rng);
    runCase('packed', { ...base, packA: true, packB: true }, rng);
  }
}));

test('gemm_fused, gemm_pack: the bindings reject bad arguments', () => {
  const s = (n: number) => new native.Storage(DEVICE, 'float32', n);
  const A = s(12), B = s(20), C = s(15), v = s(8), P = s(64 * 4);
  // C (3x5) = A (3x4) @ B (4x5)
  const base: GemmFusedArgs = {
    C, offC: 0, ldc: 5, strideC: 0, A, offA: 0, lda: 4, strideA: 0, transA: false, packedA: false,
    B, offB: 0, ldb: 5, strideB: 0, transB: false, packedB: false, M: 3, N: 5, K: 4, batch: 1, alpha: 1, beta: 0,
    scale: null, offScale: 0, shift: null, offShift: 0, proPeriod: 1, proLd: 1, proStride: 0,
    bias: null, offBias: 0, biasStride: 0, biasPerColumn: false, act: 0,
    rowScale: null, offRowScale: 0, rowScaleLd: 1, rowScaleStride: 0, residual: null, offResidual: 0, ldr: 5, strideR: 0,
  };
  const call = (over: Partial<GemmFusedArgs>) => native.gemm_fused({ ...base, ...over });
  call({});
  assertThrows(() => call({ batch: 2, strideA: 12, strideB: 20, A: s(24), B: s(40) }), /gemm_fused: expected a nonzero stride when batch > 1 \(gemm_fused does not sum over the batch\) for strideC but received 0/);
  assertThrows(() => call({ act: 4 }), /gemm_fused: expected 0 \(none\), 1 \(ReLU\), 2 \(GELU\) or 3 \(sigmoid\) for act but received 4/);
  assertThrows(() => call({ scale: v }), /gemm_fused: expected a Storage like scale for shift but received null/);
  assertThrows(() => call({ scale: v, shift: v, proPeriod: 0 }), /gemm_fused: expected a positive integer for proPeriod/);
  assertThrows(() => call({ scale: v, shift: v, proPeriod: 3, proLd: 4 }), /gemm_fused: expected a storage of at least 9 elements for scale but received one of 8/);
  assertThrows(() => call({ A: P, packedA: true, scale: v, shift: v }), /gemm_fused: expected null with a packed A/);
  assertThrows(() => call({ A: s(12), packedA: true }), /gemm_fused: expected a storage of at least 24 elements for A but received one of 12/);
  assertThrows(() => call({ A: P, packedA: true, batch: 2, strideA: 5, strideC: 15, C: s(30) }), /gemm_fused: expected 0 or at least one packed matrix \(24 elements\) for strideA but received 5/);
  assertThrows(() => call({ bias: s(4), biasPerColumn: true }), /gemm_fused: expected a storage of at least 5 elements for bias but received one of 4/);
  assertThrows(() => call({ bias: s(2) }), /gemm_fused: expected a storage of at least 3 elements for bias but received one of 2/);
  assertThrows(() => call({ residual: C }), /gemm_fused: expected an output that does not overlap residual for C/);
  assertThrows(() => call({ residual: s(15), ldr: 4 }), /gemm_fused: expected a leading dimension >= 5 for ldr but received 4/);
  assertThrows(() => call({ rowScale: s(2), rowScaleLd: 1 }), /gemm_fused: expected a storage of at least 3 elements for rowScale/);
  assertThrows(() => call({ bias: C }), /gemm_fused: expected an output that does not overlap bias for C/);
  const pk = { out: P, offOut: 0, inp: A, offInp: 0, sideB: false, rows: 3, K: 4, batch: 1, ld: 4, stride: 0, trans: false };
  native.gemm_pack(pk);
  assertThrows(() => native.gemm_pack({ ...pk, ld: 3 }), /gemm_pack: expected a leading dimension >= 4 for ld but received 3/);
  assertThrows(() => native.gemm_pack({ ...pk, out: s(23) }), /gemm_pack: expected a storage of at least 24 elements for out but received one of 23/);
  assertThrows(() => native.gemm_pack({ ...pk, inp: P, offInp: 10 }), /gemm_pack: expected an output that does not overlap inp for out/);
  for (const x of [A, B, C, v, P]) x.dispose();
});

test('gemm_fused: no storage is left behind', () => {
  const before = liveStorages();
  runCase('leak', randomCase(new Rng(15), { M: 5, N: 6, K: 7, batch: 2 }), new Rng(16));
  assert.equal(liveStorages(), before);
});

test.run();
