// Tensor-scalar arithmetic through the native scale kernel (out = alpha * x + beta):
// mulScalar(x, s) = s * x (dx = s * dy) and addScalar(x, s) = x + s (dx = dy).
import { record } from '../autograd';
import { checkTensor } from '../check';
import { describe, fail } from '../errors';
import { native } from '../native';
import { Tensor } from '../tensor';
import { withDense } from './views';

// y = alpha * x + beta; y, x: same shape
function affine(x: Tensor, alpha: number, beta: number): Tensor {
  const y = Tensor.empty(x.shape, { device: x.device });
  withDense([x], (xd) => native.scale(y.storage, xd.storage, alpha, beta, x.numel));
  return y;
}

function checkScalar(op: string, s: unknown): number {
  if (typeof s !== 'number' || Number.isNaN(s)) fail(op, 's', 'a number', describe(s));
  return s;
}

/** s * x */
export function mulScalar(x: Tensor, s: number): Tensor {
  checkTensor('mulScalar', 'x', x);
  checkScalar('mulScalar', s);
  return record('mulScalar', affine(x, s, 0), [x], [], (g) => [affine(g, s, 0)]);
}

/** x + s */
export function addScalar(x: Tensor, s: number): Tensor {
  checkTensor('addScalar', 'x', x);
  checkScalar('addScalar', s);
  return record('addScalar', affine(x, 1, s), [x], [], (g) => [g.view(g.shape, g.strides, g.offset)]);
}
