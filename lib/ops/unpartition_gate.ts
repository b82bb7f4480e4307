// The end of a RepMLP block in one pass: un-partition the block's output, multiply it by the
// Global Perceptron's per-channel gate and add the residual stream,
//   unpartitionGate(y, gate, H, W, { residual }) = unpartition(y, H, W) * gate + residual,
// with the same values and gradients as those three ops (native/ops/unpartition_gate.cc).
// Neither the un-partitioned map nor the gated one is stored, and backward writes dy and
// reduces dgate in one pass over the output's gradient.
import { keepNeeded, record } from '../autograd';
import { checkInt, checkSameDevice, checkTensor } from '../check';
import { describe, fail, shapeStr } from '../errors';
import { native, type PartitionShape } from '../native';
import { Tensor } from '../tensor';
import { withDense } from './views';

export interface UnpartitionGateOptions {
  /** A tensor of the output's shape (N, C, H, W) added in the same pass; null or left out for none. */
  residual?: Tensor | null;
}

/**
 * y: (N * H/h * W/w, C, h, w) partitions as partition() makes them; gate: (N, C, 1, 1).
 * Returns (N, C, H, W) = unpartition(y, H, W) * gate (+ options.residual).
 */
export function unpartitionGate(y: Tensor, gate: Tensor, H: number, W: number, opts: UnpartitionGateOptions = {}): Tensor {
  const OP = 'unpartitionGate';
  checkTensor(OP, 'y', y, { ndim: 4 });
  checkInt(OP, 'H', H);
  checkInt(OP, 'W', W);
  const [B, C, h, w] = y.shape;
  if (h === 0 || w === 0 || H % h || W % w || B % ((H / h) * (W / w)))
    fail(OP, 'y', `partitions of a ${H} x ${W} map`, `shape ${shapeStr(y.shape)}`);
  const Hp = H / h, Wp = W / w, N = B / (Hp * Wp);
  const shape: PartitionShape = { N, C, Hp, h, Wp, w };
  checkTensor(OP, 'gate', gate, { shape: [N, C, 1, 1] });
  if (typeof opts !== 'object' || opts === null) fail(OP, 'options', 'an object', describe(opts));
  const residual = opts.residual ? checkTensor(OP, 'options.residual', opts.residual, { shape: [N, C, H, W] }) : null;
  checkSameDevice(OP, { y, gate, 'options.residual': residual });

  // out: (N, C, H, W)
  const out = Tensor.empty([N, C, H, W], { device: y.device });
  withDense([y, gate, residual ?? y], (yd, gd, rd) =>
    native.unpartition_gate_forward({ out: out.storage, y: yd.storage, gate: gd.storage, residual: residual ? rd.storage : null, ...shape }),
  );
  const inputs = residual ? [y, gate, residual] : [y, gate];
  return record(residual ? `${OP}+residual` : OP, out, inputs, [y, gate], (g, [ys, gs], needs) => {
    // dy: y's shape; dgate: (N, C, 1, 1)
    const dy = Tensor.empty(ys.shape, { device: g.device });
    const dgate = Tensor.empty(gs.shape, { device: g.device });
    withDense([g, ys, gs], (gd, yd, gsd) =>
      native.unpartition_gate_backward({ dy: dy.storage, dgate: dgate.storage, dout: gd.storage, y: yd.storage, gate: gsd.storage, ...shape }),
    );
    const grads = keepNeeded([dy, dgate], needs);
    // The residual's gradient is the output's (a view: a rule never returns g itself).
    if (residual) grads.push(needs[2] ? g.view(g.shape, g.strides, g.offset) : null);
    return grads;
  });
}
