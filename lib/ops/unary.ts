// Unary elementwise activations (native/ops/unary.h): unaryOp makes each from its kernels'
// name and the tensor its backward reads, the forward's input or output.
import { record } from '../autograd';
import { checkTensor } from '../check';
import { native } from '../native';
import { Tensor } from '../tensor';
import { withDense } from './views';

/** Every activation of REPMLP_UNARY_OPS (native/ops/unary.h) and what its backward reads. */
export const UNARY_OPS = { relu: 'output', gelu: 'input', sigmoid: 'output', silu: 'input' } as const;
export type UnaryName = keyof typeof UNARY_OPS;

export function unaryOp(name: UnaryName): (x: Tensor) => Tensor {
  const saves = UNARY_OPS[name];
  const forward = native[`${name}_forward`], backward = native[`${name}_backward`];
  return (x: Tensor): Tensor => {
    checkTensor(name, 'x', x);
    // y, x: same shape
    const y = Tensor.empty(x.shape, { device: x.device });
    return withDense([x], (xd) => {
      forward(y.storage, xd.storage, x.numel);
      return record(name, y, [x], [saves === 'input' ? xd : y], (g, [s]) => {
        const dx = Tensor.empty(s.shape, { device: g.device });
        withDense([g], (gd) => backward(dx.storage, gd.storage, s.storage, s.numel));
        return [dx];
      });
    });
  };
}

/** ReLU: y = max(x, 0), NaN kept. Backward from the output: dx = y <= 0 ? 0 : dy. */
export const relu = unaryOp('relu');
/** GELU, exact (erf) form: y = x * Phi(x). Backward from the input: dx = dy * (Phi(x) + x * phi(x)). */
export const gelu = unaryOp('gelu');
/** Sigmoid: y = 1 / (1 + exp(-x)). Backward from the output: dx = dy * y * (1 - y). */
export const sigmoid = unaryOp('sigmoid');
/** SiLU: y = x * sigmoid(x). Backward from the input: dx = dy * s * (1 + x * (1 - s)), s = sigmoid(x). */
export const silu = unaryOp('silu');
