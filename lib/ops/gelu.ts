// GELU, exact (erf) form: y = x * Phi(x) = 0.5 * x * (1 + erf(x / sqrt(2))).
// Backward from the saved input: dx = dy * (Phi(x) + x * phi(x)).
import { record } from '../autograd';
import { checkTensor } from '../check';
import { native } from '../native';
import { Tensor } from '../tensor';
import { withDense } from './views';

export function gelu(x: Tensor): Tensor {
  checkTensor('gelu', 'x', x);
  // y, x: same shape
  const y = Tensor.empty(x.shape, { device: x.device });
  return withDense([x], (xd) => {
    native.gelu_forward(y.storage, xd.storage, x.numel);
    return record('gelu', y, [x], [xd], (g, [xs]) => {
      const dx = Tensor.empty(xs.shape, { device: g.device });
      withDense([g], (gd) => native.gelu_backward(dx.storage, gd.storage, xs.storage, xs.numel));
      return [dx];
    });
  });
}
