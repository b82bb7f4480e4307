// A fused GEMM step (native gemm_fused, ops/gemm.h) from what a plan says about it: the
// operands as matrices, and only the prologue and epilogue parts it uses.
import type { GemmStep, Ref } from './program';

/** A batch of row-major matrices: rows ld apart, matrices stride apart (0: shared), maybe the transpose, maybe packed. */
export interface Mat {
  ref: Ref;
  ld: number;
  stride: number;
  trans?: boolean;
  /** gemm_pack's layout (a weight packed at build time); ld and trans are then not read */
  packed?: boolean;
}

/** A per-row or per-column vector: element (b, i) at b * stride + i * ld. */
export interface Vec {
  ref: Ref;
  ld: number;
  stride: number;
}

export type Activation = 'none' | 'relu' | 'gelu' | 'sigmoid';
const ACT_CODES: Record<Activation, number> = { none: 0, relu: 1, gelu: 2, sigmoid: 3 };

export interface GemmSpec {
  /** C_b (M, N) = epilogue(alpha * opA(A_b) (M, K) @ opB(B_b) (K, N)) for b < batch */
  C: Mat;
  A: Mat;
  B: Mat;
  M: number;
  N: number;
  K: number;
  batch?: number;
  alpha?: number;
  /** opA's row i of matrix b times scale[v] plus shift[v], v = (i % period) * ld + b * stride */
  prologue?: { scale: Ref; shift: Ref; period: number; ld: number; stride: number };
  /** bias[b * stride + i] (per row) or [b * stride + j] (perColumn) */
  bias?: { ref: Ref; stride: number; perColumn: boolean };
  act?: Activation;
  /** times rowScale[b * stride + i * ld], after the activation */
  rowScale?: Vec;
  /** plus residual[b * stride + i * ld + j], last */
  residual?: Vec;
}

export function gemmStep(s: GemmSpec): GemmStep {
  const { C, A, B, prologue: pro, bias, rowScale: rs, residual: res } = s;
  return {
    kind: 'gemm',
    C: C.ref, ldc: C.ld, strideC: C.stride,
    A: A.ref, lda: A.ld, strideA: A.stride, transA: A.trans ?? false, packedA: A.packed ?? false,
    B: B.ref, ldb: B.ld, strideB: B.stride, transB: B.trans ?? false, packedB: B.packed ?? false,
    M: s.M, N: s.N, K: s.K, batch: s.batch ?? 1, alpha: s.alpha ?? 1, beta: 0,
    scale: pro?.scale ?? null, shift: pro?.shift ?? null, proPeriod: pro?.period ?? 1, proLd: pro?.ld ?? 0, proStride: pro?.stride ?? 0,
    bias: bias?.ref ?? null, biasStride: bias?.stride ?? 0, biasPerColumn: bias?.perColumn ?? false, act: ACT_CODES[s.act ?? 'none'],
    rowScale: rs?.ref ?? null, rowScaleLd: rs?.ld ?? 0, rowScaleStride: rs?.stride ?? 0,
    residual: res?.ref ?? null, ldr: res?.ld ?? 0, strideR: res?.stride ?? 0,
  };
}
