// Broadcasting add, sub and mul (PyTorch rules: trailing dimensions aligned, size-1
// dimensions stretched). Operands are read in place through broadcast strides (a stride-0
// view from expand costs no copy). Backward: the gradient of each operand is dout (times
// the other operand for mul, negated for sub's b) summed back to the operand's shape.
import { record } from '../autograd';
import { checkSameDevice, checkTensor } from '../check';
import { native } from '../native';
import { materialize, Tensor } from '../tensor';
import { broadcastShapes, broadcastStrides, sumTo } from './broadcast';

type BinaryOp = 'add' | 'sub' | 'mul';

/** @internal out (contiguous, the broadcast shape) = a (op) b; no autograd node. */
export function binaryInto(out: Tensor, a: Tensor, b: Tensor, op: BinaryOp): void {
  // The kernel reads any strides from element 0 of a storage; other views are copied first.
  const da = a.offset === 0 ? a : materialize(a, false);
  const db = b.offset === 0 ? b : materialize(b, false);
  try {
    native.binary_forward(out.storage, da.storage, db.storage, op, [...out.shape], broadcastStrides(da, out.shape), broadcastStrides(db, out.shape));
  } finally {
    if (da !== a) da.dispose();
    if (db !== b) db.dispose();
  }
}

function binary(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  checkTensor(op, 'a', a);
  checkTensor(op, 'b', b);
  const device = checkSameDevice(op, { a, b });
  // out: broadcast(a.shape, b.shape)
  const out = Tensor.empty(broadcastShapes(op, a.shape, b.shape), { device });
  binaryInto(out, a, b, op);
  const aShape = a.shape, bShape = b.shape;
  if (op !== 'mul')
    return record(op, out, [a, b], [], (g, _saved, needs) => [
      needs[0] ? sumTo(g, aShape) : null,
      needs[1] ? sumTo(g, bShape, op === 'sub' ? -1 : 1) : null,
    ]);
  return record(op, out, [a, b], [a, b], (g, [as, bs], needs) => {
    // d a = sum_to(dout * b, a.shape); d b = sum_to(dout * a, b.shape)
    const grad = (other: Tensor, shape: readonly number[]) => {
      const prod = Tensor.empty(g.shape, { device: g.device });
      binaryInto(prod, g, other, 'mul');
      const r = sumTo(prod, shape);
      prod.dispose();
      return r;
    };
    return [needs[0] ? grad(bs, aShape) : null, needs[1] ? grad(as, bShape) : null];
  });
}

/** a + b with broadcasting. */
export function add(a: Tensor, b: Tensor): Tensor {
  return binary('add', a, b);
}

/** a - b with broadcasting. */
export function sub(a: Tensor, b: Tensor): Tensor {
  return binary('sub', a, b);
}

/** a * b (elementwise) with broadcasting. */
export function mul(a: Tensor, b: Tensor): Tensor {
  return binary('mul', a, b);
}
