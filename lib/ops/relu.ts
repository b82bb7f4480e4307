// ReLU: y = max(x, 0). Backward: dx = dy * (y > 0), from the saved output.
import { record } from '../autograd';
import { checkTensor } from '../check';
import { native } from '../native';
import { Tensor } from '../tensor';
import { withDense } from './views';

export function relu(x: Tensor): Tensor {
  checkTensor('relu', 'x', x);
  // y, x: same shape
  const y = Tensor.empty(x.shape, { device: x.device });
  withDense([x], (xd) => native.relu_forward(y.storage, xd.storage, x.numel));
  return record('relu', y, [x], [y], (g, [ys]) => {
    const dx = Tensor.empty(ys.shape, { device: g.device });
    withDense([g], (gd) => native.relu_backward(dx.storage, gd.storage, ys.storage, ys.numel));
    return [dx];
  });
}
