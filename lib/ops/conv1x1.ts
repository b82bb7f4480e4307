// 1x1 convolution, as PyTorch's F.conv2d with a (Cout, Cin, 1, 1) kernel:
// out[n] (Cout, HW) = W (Cout, Cin) @ x[n] (Cin, HW) + bias, one strided-batched GEMM over n
// with W shared (stride 0). Backward: dx[n] = W^T @ dout[n] (one batched GEMM),
// dW = sum_n dout[n] @ x[n]^T as one GEMM that sums its batch into one C (strideC 0: the
// images are read where they lie, with no channel-major copy; with HW = 1 a single GEMM over
// the batch as rows), dbias = dout summed over n and HW.
import { record } from '../autograd';
import { checkSameDevice, checkTensor } from '../check';
import { fillTensor, Tensor } from '../tensor';
import { biasGrad, fillBias, gemm, rowMajor, transposed } from './gemm';
import { withDense } from './views';

export function conv1x1(x: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  checkTensor('conv1x1', 'x', x, { ndim: 4 });
  const [N, Cin, H, W] = x.shape;
  const HW = H * W;
  checkTensor('conv1x1', 'weight', weight, { shape: [null, Cin, 1, 1] });
  const Cout = weight.shape[0];
  if (bias !== null) checkTensor('conv1x1', 'bias', bias, { shape: [Cout] });
  const device = checkSameDevice('conv1x1', { x, weight, bias });
  // y: (N, Cout, H, W)
  const y = Tensor.empty([N, Cout, H, W], { device });
  if (bias) fillBias(y, bias, N, Cout, HW);
  withDense([x, weight], (xd, wd) =>
    gemm(rowMajor(y, HW, Cout * HW), rowMajor(wd, Cin, 0), rowMajor(xd, HW, Cin * HW), {
      M: Cout, N: HW, K: Cin, batch: N, beta: bias ? 1 : 0,
    }),
  );
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record('conv1x1', y, inputs, [x, weight], (g, [xs, ws], needs) =>
    withDense([g, xs, ws], (gd, xd, wd) => {
      let dx: Tensor | null = null, dw: Tensor | null = null;
      if (needs[0]) {
        // dx[n] (Cin, HW) = W^T (Cin, Cout) @ dout[n] (Cout, HW)
        dx = Tensor.empty([N, Cin, H, W], { device });
        gemm(rowMajor(dx, HW, Cin * HW), transposed(rowMajor(wd, Cin, 0)), rowMajor(gd, HW, Cout * HW), {
          M: Cin, N: HW, K: Cout, batch: N,
        });
      }
      if (needs[1]) {
        // dW (Cout, Cin) = sum_n dout[n] (Cout, HW) @ x[n]^T (HW, Cin)
        dw = Tensor.empty([Cout, Cin, 1, 1], { device });
        if (N === 0) fillTensor(dw, 0);
        else if (HW === 1) {
          // dout (N, Cout)^T @ x (N, Cin)
          gemm(rowMajor(dw, Cin), transposed(rowMajor(gd, Cout)), rowMajor(xd, Cin), { M: Cout, N: Cin, K: N });
        } else {
          // sum over n of dout[n] (Cout, HW) @ x[n]^T (HW, Cin), into one dW (stride 0)
          gemm(rowMajor(dw, Cin, 0), rowMajor(gd, HW, Cout * HW), transposed(rowMajor(xd, HW, Cin * HW)), {
            M: Cout, N: Cin, K: HW, batch: N,
          });
        }
      }
      if (!bias) return [dx, dw];
      return [dx, dw, needs[2] ? biasGrad(gd, N, Cout, HW) : null];
    }),
  );
}
