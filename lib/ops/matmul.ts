// Matrix products: matmul(a (M, K), b (K, N)) -> (M, N) and the batched
// bmm(a (B, M, K), b (B, K, N)) -> (B, M, N). Views reach the GEMM as they are: a
// transposed view is a transposed operand, not a copy. Backward: da = g @ b^T and
// db = a^T @ g, the same GEMM with the operands' transpose flags flipped.
import { record } from '../autograd';
import { checkSameDevice, checkTensor } from '../check';
import { Tensor } from '../tensor';
import { gemm, rowMajor, transposed, withOperands } from './gemm';

/** The matrix product of a (M, K) and b (K, N). */
export function matmul(a: Tensor, b: Tensor): Tensor {
  return product('matmul', a, b, false);
}

/** Batched matrix product: out[i] = a[i] @ b[i] for a (B, M, K) and b (B, K, N). */
export function bmm(a: Tensor, b: Tensor): Tensor {
  return product('bmm', a, b, true);
}

function product(op: string, a: Tensor, b: Tensor, batched: boolean): Tensor {
  checkTensor(op, 'a', a, { ndim: batched ? 3 : 2 });
  const batch = batched ? a.shape[0] : 1;
  const [M, K] = a.shape.slice(-2);
  checkTensor(op, 'b', b, { shape: batched ? [batch, K, null] : [K, null] });
  const device = checkSameDevice(op, { a, b });
  const N = b.shape[b.ndim - 1];
  // y: (B, M, N) or (M, N)
  const y = Tensor.empty(batched ? [batch, M, N] : [M, N], { device });
  withOperands([a, b], (A, B) => gemm(rowMajor(y, N, M * N), A, B, { M, N, K, batch }));
  return record(op, y, [a, b], [a, b], (g, [as, bs], needs) =>
    withOperands([g, as, bs], (G, A, B) => {
      let da: Tensor | null = null, db: Tensor | null = null;
      if (needs[0]) {
        // da (M, K) = g (M, N) @ b^T (N, K)
        da = Tensor.empty(as.shape, { device });
        gemm(rowMajor(da, K, M * K), G, transposed(B), { M, N: K, K: N, batch });
      }
      if (needs[1]) {
        // db (K, N) = a^T (K, M) @ g (M, N)
        db = Tensor.empty(bs.shape, { device });
        gemm(rowMajor(db, N, K * N), transposed(A), G, { M: K, N, K: M, batch });
      }
      return [da, db];
    }),
  );
}
