// A grouped fully-connected layer: PyTorch's grouped 1x1 convolution on a (R, G*K, 1, 1) input,
//   F.conv2d(x.reshape(R, G*K, 1, 1), weight.reshape(G*M, K, 1, 1), bias, groups=G).reshape(R, G*M),
// for x (R, G*K), weight (G*M, K) and bias (G*M) or null: group g maps columns [g*K, (g+1)*K)
// of x by rows [g*M, (g+1)*M) of the weight to columns [g*M, (g+1)*M) of y. As one
// strided-batched GEMM over the groups, reading x and writing y in place (no copies):
//   y_g (R, M) = x_g (R, K) @ W_g^T          (+ bias_g on every row)
//   dx_g       = dy_g (R, M) @ W_g (M, K)
//   dW_g       = dy_g^T (M, R) @ x_g (R, K)
//   dbias      = dy summed over the R rows
// The RepMLP block's fc3 (the partition perceptron, G = fc3 groups) and RepMLPNet's
// set-sharing FC (G = S, K = M = h*w) are both this layer.
import { record } from '../autograd';
import { checkInt, checkSameDevice, checkTensor } from '../check';
import { fail, shapeStr } from '../errors';
import { Tensor } from '../tensor';
import { biasGrad, fillBias, gemm, rowMajor, transposed } from './gemm';
import { withDense } from './views';

const OP = 'groupedLinear';

/** x: (R, groups * K); weight: (groups * M, K); bias: (groups * M) or null. Returns (R, groups * M). */
export function groupedLinear(x: Tensor, weight: Tensor, bias: Tensor | null = null, groups = 1): Tensor {
  return groupedLinearAs(OP, x, weight, bias, groups);
}

/** @internal groupedLinear under another op's name (in its errors and its autograd node). */
export function groupedLinearAs(op: string, x: Tensor, weight: Tensor, bias: Tensor | null, groups: number): Tensor {
  const G = checkInt(op, 'groups', groups);
  checkTensor(op, 'x', x, { ndim: 2 });
  checkTensor(op, 'weight', weight, { ndim: 2 });
  const [R, inF] = x.shape;
  const [outF, K] = weight.shape;
  if (outF % G) fail(op, 'weight', `a row count divisible by groups ${G}`, `shape ${shapeStr(weight.shape)}`);
  if (inF !== G * K) fail(op, 'x', `${G * K} columns (groups ${G} x the weight's ${K})`, `shape ${shapeStr(x.shape)}`);
  if (bias !== null) checkTensor(op, 'bias', bias, { shape: [outF] });
  const device = checkSameDevice(op, { x, weight, bias });
  const M = outF / G;
  // y: (R, G*M)
  const y = Tensor.empty([R, outF], { device });
  if (bias) fillBias(y, bias, R, outF, 1);
  withDense([x, weight], (xd, wd) =>
    gemm(rowMajor(y, outF, M), rowMajor(xd, inF, K), transposed(rowMajor(wd, K, M * K)), { M: R, N: M, K, batch: G, beta: bias ? 1 : 0 }),
  );
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record(op, y, inputs, [x, weight], (g, [xs, ws], needs) =>
    withDense([g, xs, ws], (gd, xd, wd) => {
      let dx: Tensor | null = null, dw: Tensor | null = null;
      if (needs[0]) {
        dx = Tensor.empty([R, inF], { device });
        gemm(rowMajor(dx, inF, K), rowMajor(gd, outF, M), rowMajor(wd, K, M * K), { M: R, N: K, K: M, batch: G });
      }
      if (needs[1]) {
        dw = Tensor.empty([outF, K], { device });
        gemm(rowMajor(dw, K, M * K), transposed(rowMajor(gd, outF, M)), rowMajor(xd, inF, K), { M, N: K, K: R, batch: G });
      }
      if (!bias) return [dx, dw];
      return [dx, dw, needs[2] ? biasGrad(gd, R, outF, 1) : null];
    }),
  );
}
