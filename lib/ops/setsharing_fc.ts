// The set-sharing FC of the RepMLP block (fc3, the Channel Perceptron), exactly PyTorch's
//   F.conv2d(x.reshape(-1, S*h*w, 1, 1), weight, bias, groups=S).reshape(B, C, h, w)
// for x (B, C, h, w) with C divisible by S, weight (S*h*w, h*w, 1, 1), bias (S*h*w) or null.
// Read x as R = B*C/S rows of S*hw values: share-set s is the column block
// [s*hw, (s+1)*hw), a (R, hw) matrix with leading dimension S*hw, and row block s of the
// weight is its (hw_out, hw_in) matrix W_s. So, as one strided-batched GEMM over s with no
// permute copies:
//   y_s (R, hw) = x_s (R, hw) @ W_s^T             (+ bias_s on every row)
//   dx_s        = dy_s (R, hw) @ W_s (hw, hw)
//   dW_s        = dy_s^T (hw, R) @ x_s (R, hw)
//   dbias       = dy summed over the R rows
import { record } from '../autograd';
import { checkInt, checkSameDevice, checkTensor } from '../check';
import { fail, shapeStr } from '../errors';
import { Tensor } from '../tensor';
import { biasGrad, fillBias, gemm, rowMajor, transposed } from './gemm';
import { withDense } from './views';

const OP = 'setSharingFc';

export function setSharingFc(x: Tensor, weight: Tensor, S: number, h: number, w: number, bias: Tensor | null = null): Tensor {
  checkInt(OP, 'S', S);
  checkInt(OP, 'h', h);
  checkInt(OP, 'w', w);
  checkTensor(OP, 'x', x, { shape: [null, null, h, w] });
  const [B, C] = x.shape;
  if (C % S !== 0) fail(OP, 'x', `a channel count divisible by S = ${S}`, `shape ${shapeStr(x.shape)}`);
  const hw = h * w, ld = S * hw, R = (B * C) / S;
  checkTensor(OP, 'weight', weight, { shape: [S * hw, hw, 1, 1] });
  if (bias !== null) checkTensor(OP, 'bias', bias, { shape: [S * hw] });
  const device = checkSameDevice(OP, { x, weight, bias });
  // y: (B, C, h, w), read as (R, S*hw)
  const y = Tensor.empty([B, C, h, w], { device });
  if (bias) fillBias(y, bias, R, ld, 1);
  withDense([x, weight], (xd, wd) =>
    gemm(rowMajor(y, ld, hw), rowMajor(xd, ld, hw), transposed(rowMajor(wd, hw, hw * hw)), {
      M: R, N: hw, K: hw, batch: S, beta: bias ? 1 : 0,
    }),
  );
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record(OP, y, inputs, [x, weight], (g, [xs, ws], needs) =>
    withDense([g, xs, ws], (gd, xd, wd) => {
      let dx: Tensor | null = null, dw: Tensor | null = null;
      if (needs[0]) {
        dx = Tensor.empty([B, C, h, w], { device });
        gemm(rowMajor(dx, ld, hw), rowMajor(gd, ld, hw), rowMajor(wd, hw, hw * hw), { M: R, N: hw, K: hw, batch: S });
      }
      if (needs[1]) {
        dw = Tensor.empty([S * hw, hw, 1, 1], { device });
        gemm(rowMajor(dw, hw, hw * hw), transposed(rowMajor(gd, ld, hw)), rowMajor(xd, ld, hw), { M: hw, N: hw, K: R, batch: S });
      }
      if (!bias) return [dx, dw];
      return [dx, dw, needs[2] ? biasGrad(gd, R, ld, 1) : null];
    }),
  );
}
