// GEMM plumbing shared by matmul, linear, conv1x1 and the set-sharing FC (no autograd):
// a typed call of the native strided-batched GEMM, the reading of a tensor view as a batch
// of row-major matrices (transposed or not) so that views reach the kernel without a copy,
// and the broadcast and reduction of a bias.
import { native, type NativeStorage } from '../native';
import { materialize, Tensor } from '../tensor';
import { withDense } from './views';

/**
 * @internal One GEMM operand: matrix b of the batch starts at storage[offset + b * stride]
 * and its rows are `ld` elements apart; `trans` means the operand is that stored matrix's
 * transpose.
 */
export interface Operand {
  storage: NativeStorage;
  offset: number;
  ld: number;
  stride: number;
  trans: boolean;
}

export interface GemmSizes {
  M: number;
  N: number;
  K: number;
  batch?: number; // default 1
  alpha?: number; // default 1
  beta?: number; // default 0: C's old contents are ignored
}

/** @internal C_b = alpha * A_b @ B_b + beta * C_b, with A_b (M, K), B_b (K, N), C_b (M, N); C is row-major. */
export function gemm(C: Operand, A: Operand, B: Operand, s: GemmSizes): void {
  native.gemm_strided_batched({
    C: C.storage, A: A.storage, B: B.storage, M: s.M, N: s.N, K: s.K, batch: s.batch ?? 1,
    transA: A.trans, transB: B.trans, alpha: s.alpha ?? 1, beta: s.beta ?? 0,
    offC: C.offset, ldc: C.ld, strideC: C.stride, offA: A.offset, lda: A.ld, strideA: A.stride,
    offB: B.offset, ldb: B.ld, strideB: B.stride,
  });
}

/** @internal Row-major matrices in t's storage: rows ld apart, matrices stride apart, from t.offset + offset. */
export function rowMajor(t: Tensor, ld: number, stride = 0, offset = 0): Operand {
  return { storage: t.storage, offset: t.offset + offset, ld: Math.max(1, ld), stride, trans: false };
}

/** @internal The transpose of an operand (no data moves). */
export function transposed(op: Operand): Operand {
  return { ...op, trans: !op.trans };
}

/**
 * @internal A 2-d tensor, or a 3-d one read as a batch, as a GEMM operand when its last two
 * axes are row-major or column-major (a transposed view) with a usable leading dimension;
 * null when it needs a copy first.
 */
export function matrixOperand(t: Tensor): Operand | null {
  const nd = t.ndim;
  const r = t.shape[nd - 2], c = t.shape[nd - 1], sr = t.strides[nd - 2], sc = t.strides[nd - 1];
  const stride = nd === 3 && t.shape[0] > 1 ? t.strides[0] : 0;
  if ((c <= 1 || sc === 1) && (r <= 1 || sr >= c))
    return { storage: t.storage, offset: t.offset, ld: Math.max(1, r <= 1 ? c : sr), stride, trans: false };
  if ((r <= 1 || sr === 1) && (c <= 1 || sc >= r))
    return { storage: t.storage, offset: t.offset, ld: Math.max(1, c <= 1 ? r : sc), stride, trans: true };
  return null;
}

/** @internal Runs fn with an operand per tensor, copying only the views a GEMM cannot read. */
export function withOperands<T>(ts: readonly Tensor[], fn: (...ops: Operand[]) => T): T {
  const copies: Tensor[] = [];
  try {
    const ops = ts.map((t) => {
      const op = matrixOperand(t);
      if (op) return op;
      const c = materialize(t, false);
      copies.push(c);
      return matrixOperand(c)!;
    });
    return fn(...ops);
  } finally {
    for (const c of copies) c.dispose();
  }
}

/** @internal Fills the dense tensor y with bias (C) broadcast as a (rows, C, inner) array. */
export function fillBias(y: Tensor, bias: Tensor, rows: number, C: number, inner: number): void {
  native.strided_copy(y.storage, y.offset, bias.storage, bias.offset, [rows, C, inner], [0, bias.strides[0], 0]);
}

/** @internal dbias (C) = the sum of g, read densely as (N, C, HW), over N and HW. */
export function biasGrad(g: Tensor, N: number, C: number, HW: number): Tensor {
  const db = Tensor.empty([C], { device: g.device });
  withDense([g], (gd) => native.bias_grad(db.storage, gd.storage, N, C, HW));
  return db;
}
