// Sigmoid: y = 1 / (1 + exp(-x)). Backward from the saved output: dx = dy * y * (1 - y).
import { record } from '../autograd';
import { checkTensor } from '../check';
import { native } from '../native';
import { Tensor } from '../tensor';
import { withDense } from './views';

export function sigmoid(x: Tensor): Tensor {
  checkTensor('sigmoid', 'x', x);
  // y, x: same shape
  const y = Tensor.empty(x.shape, { device: x.device });
  withDense([x], (xd) => native.sigmoid_forward(y.storage, xd.storage, x.numel));
  return record('sigmoid', y, [x], [y], (g, [ys]) => {
    const dx = Tensor.empty(ys.shape, { device: g.device });
    withDense([g], (gd) => native.sigmoid_backward(dx.storage, gd.storage, ys.storage, ys.numel));
    return [dx];
  });
}
