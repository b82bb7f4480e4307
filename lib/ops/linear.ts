// Fully connected layer, as PyTorch's F.linear: y (N, out) = x (N, in) @ weight^T + bias,
// weight (out, in), bias (out) or null. Backward: dx = g @ weight, dweight = g^T @ x (GEMMs
// with transpose flags, no copies), dbias = g summed over the rows.
import { record } from '../autograd';
import { checkSameDevice, checkTensor } from '../check';
import { Tensor } from '../tensor';
import { biasGrad, fillBias, gemm, rowMajor, transposed, withOperands } from './gemm';

export function linear(x: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  checkTensor('linear', 'x', x, { ndim: 2 });
  const [N, inF] = x.shape;
  checkTensor('linear', 'weight', weight, { shape: [null, inF] });
  const outF = weight.shape[0];
  if (bias !== null) checkTensor('linear', 'bias', bias, { shape: [outF] });
  const device = checkSameDevice('linear', { x, weight, bias });
  // y: (N, out)
  const y = Tensor.empty([N, outF], { device });
  if (bias) fillBias(y, bias, N, outF, 1);
  withOperands([x, weight], (X, W) => gemm(rowMajor(y, outF), X, transposed(W), { M: N, N: outF, K: inF, beta: bias ? 1 : 0 }));
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record('linear', y, inputs, [x, weight], (g, [xs, ws], needs) => {
    const [dx, dw] = withOperands([g, xs, ws], (G, X, W) => {
      let dx: Tensor | null = null, dw: Tensor | null = null;
      if (needs[0]) {
        // dx (N, in) = g (N, out) @ weight (out, in)
        dx = Tensor.empty([N, inF], { device });
        gemm(rowMajor(dx, inF), G, W, { M: N, N: inF, K: outF });
      }
      if (needs[1]) {
        // dweight (out, in) = g^T (out, N) @ x (N, in)
        dw = Tensor.empty([outF, inF], { device });
        gemm(rowMajor(dw, inF), transposed(G), X, { M: outF, N: inF, K: N });
      }
      return [dx, dw];
    });
    if (!bias) return [dx, dw];
    return [dx, dw, needs[2] ? biasGrad(g, N, outF, 1) : null];
  });
}
