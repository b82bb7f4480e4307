// BatchNorm2d with PyTorch semantics. Training: normalise with the batch mean and biased
// variance per channel over (N, H, W), update runningMean / runningVar (unbiased variance)
// in place with `momentum`, and count numBatchesTracked. Eval: normalise with the running
// statistics. Gradients for x, weight and bias in both modes (through the batch statistics
// in training; with the statistics constant in eval). An activation may follow in the same
// pass (conv -> BN -> ReLU, conv -> BN -> GELU): its input is then never stored, and backward
// takes ReLU's mask from the output and GELU's derivative at the input recomputed from x
// (native/ops/batchnorm.cc). Or a residual may be added in the same pass (a branch summed into
// another, a block's output into the residual stream).
import { isGradEnabled, keepNeeded, record } from '../autograd';
import { checkSameDevice, checkTensor } from '../check';
import { describe, fail, shapeStr } from '../errors';
import { native } from '../native';
import { Tensor } from '../tensor';
import { withDense } from './views';

export interface BatchNormOptions {
  /** Batch statistics (and running-statistics updates) when true, running statistics when false. */
  training: boolean;
  /** Weight of the new batch statistics in the running averages (default 0.1). */
  momentum?: number;
  /** Added to the variance before the square root (default 1e-5). */
  eps?: number;
  /**
   * An activation applied to the output in the same pass: act(batchNorm2d(x)) with the same
   * values and gradients as relu() or gelu() after it, one pass over memory and one saved
   * tensor fewer. Default 'none'.
   */
  activation?: BatchNormActivation;
  /**
   * A tensor of x's shape added to the output in the same pass: batchNorm2d(x) + residual, whose
   * gradient is the output's. Not with an activation. Default none.
   */
  residual?: Tensor | null;
  /**
   * Training statistics over every rank of the distributed world (SyncBatchNorm): the
   * per-channel sums and counts are summed over the ranks in the forward, and the sums of dy
   * and dy * xhat in the backward; the weight and bias gradients stay this rank's, for a
   * data-parallel wrapper to average. A collective: every rank must make the same calls. The
   * identity outside a distributed world. Default false.
   */
  sync?: boolean;
}

export type BatchNormActivation = 'none' | 'relu' | 'gelu';
// The native codes (native/common.h, Act).
const ACT_CODES: Record<BatchNormActivation, number> = { none: 0, relu: 1, gelu: 2 };

// One backward kernel call: the gradients, dout, then the saved tensors (x, weight, the two
// statistics) and the activation's extra (the output for ReLU, the bias for GELU, else null).
type BackwardKernel = (dx: Tensor, dw: Tensor, db: Tensor, g: Tensor, x: Tensor, w: Tensor, s1: Tensor, s2: Tensor,
  out: Tensor | null, b: Tensor | null) => void;

const OP = 'batchNorm2d';

// A running buffer the kernels update in place: dense from its storage's first element.
function checkBuffer(name: string, t: Tensor | null, C: number, required: boolean): Tensor | null {
  if (t === null || t === undefined) {
    if (required) fail(OP, name, 'a Tensor in eval mode', describe(t));
    return null;
  }
  checkTensor(OP, name, t, { shape: [C] });
  if (!t.isContiguous || t.offset !== 0) fail(OP, name, 'a dense tensor (updated in place)', 'a strided or offset view');
  if (t.requiresGrad) fail(OP, name, 'a buffer that does not require grad', 'a tensor with requiresGrad true');
  return t;
}

function clone(t: Tensor): Tensor {
  const c = Tensor.empty(t.shape, { device: t.device });
  native.scale(c.storage, t.storage, 1, 0, t.numel);
  return c;
}

/**
 * y = (x - mean) / sqrt(var + eps) * weight + bias per channel of x (N, C, H, W).
 * runningMean / runningVar (C) are required in eval mode; in training they are updated in
 * place when given (both or neither). numBatchesTracked (int64, one element) is incremented
 * in training when given.
 */
export function batchNorm2d(
  x: Tensor,
  weight: Tensor,
  bias: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  numBatchesTracked: Tensor | null,
  opts: BatchNormOptions,
): Tensor {
  checkTensor(OP, 'x', x, { ndim: 4 });
  const [N, C, H, W] = x.shape;
  checkTensor(OP, 'weight', weight, { shape: [C] });
  checkTensor(OP, 'bias', bias, { shape: [C] });
  if (typeof opts !== 'object' || opts === null) fail(OP, 'options', 'an object with a boolean training', describe(opts));
  const { training } = opts;
  if (typeof training !== 'boolean') fail(OP, 'options.training', 'a boolean', describe(training));
  const momentum = opts.momentum ?? 0.1;
  if (typeof momentum !== 'number' || !(momentum >= 0 && momentum <= 1))
    fail(OP, 'options.momentum', 'a number in [0, 1]', describe(momentum));
  const eps = opts.eps ?? 1e-5;
  if (typeof eps !== 'number' || !(eps > 0) || !Number.isFinite(eps)) fail(OP, 'options.eps', 'a positive finite number', describe(eps));
  const activation = opts.activation ?? 'none';
  if (typeof activation !== 'string' || !Object.hasOwn(ACT_CODES, activation))
    fail(OP, 'options.activation', "'none', 'relu' or 'gelu'", describe(activation));
  const act = ACT_CODES[activation];
  let residual: Tensor | null = null;
  if (opts.residual !== undefined && opts.residual !== null) {
    residual = checkTensor(OP, 'options.residual', opts.residual, { shape: x.shape });
    if (activation !== 'none') fail(OP, 'options.residual', `no residual with activation '${activation}'`, 'a Tensor');
  }
  const sync = opts.sync ?? false;
  if (typeof sync !== 'boolean') fail(OP, 'options.sync', 'a boolean', describe(sync));
  const rm = checkBuffer('runningMean', runningMean, C, !training);
  const rv = checkBuffer('runningVar', runningVar, C, !training);
  if ((rm === null) !== (rv === null))
    fail(OP, rm ? 'runningVar' : 'runningMean', `a Tensor like ${rm ? 'runningMean' : 'runningVar'}`, 'null');
  let nbt: Tensor | null = null;
  if (numBatchesTracked !== null && numBatchesTracked !== undefined) {
    nbt = checkTensor(OP, 'numBatchesTracked', numBatchesTracked, { dtype: 'int64' });
    if (nbt.numel !== 1) fail(OP, 'numBatchesTracked', 'a tensor of one element', `shape ${shapeStr(nbt.shape)}`);
  }
  checkSameDevice(OP, { x, weight, bias, runningMean: rm, runningVar: rv, numBatchesTracked: nbt, 'options.residual': residual });
  const HW = H * W;
  // (Under sync the count over the world is checked natively, by every rank alike.)
  if (training && !sync && N * HW < 2) fail(OP, 'x', 'more than 1 value per channel when training', `shape ${shapeStr(x.shape)}`);

  const device = x.device;
  const y = Tensor.empty(x.shape, { device });
  const inputs = residual ? [x, weight, bias, residual] : [x, weight, bias];
  const tracking = isGradEnabled() && inputs.some((t) => t.requiresGrad);
  const name = residual ? `${OP}+residual` : activation === 'none' ? OP : `${OP}+${activation}`;
  // Saved besides x, weight and the two statistics.
  const extra = activation === 'relu' ? [y] : activation === 'gelu' ? [bias] : [];
  const backward = (kernel: BackwardKernel) => (g: Tensor, saved: readonly Tensor[], needs: readonly boolean[]) => {
    const [xs, ws, s1, s2, es] = saved;
    const dx = Tensor.empty(xs.shape, { device: g.device });
    const dw = Tensor.empty([C], { device: g.device });
    const db = Tensor.empty([C], { device: g.device });
    withDense([g, xs, ws, es ?? ws], (gd, xd, wd, ed) =>
      kernel(dx, dw, db, gd, xd, wd, s1, s2, activation === 'relu' ? ed : null, activation === 'gelu' ? ed : null),
    );
    const grads = keepNeeded([dx, dw, db], needs);
    // The residual's gradient is the output's (a view: a rule never returns g itself).
    if (residual) grads.push(needs[3] ? g.view(g.shape, g.strides, g.offset) : null);
    return grads;
  };
  if (training) {
    // mean, invstd: (C) batch statistics saved for backward
    const mean = Tensor.empty([C], { device });
    const invstd = Tensor.empty([C], { device });
    // the values per channel the statistics pooled (over the world under sync)
    const count = withDense([x, weight, bias, residual ?? x], (xd, wd, bd, rd) =>
      native.batchnorm_forward_train({
        out: y.storage, meanSaved: mean.storage, invstdSaved: invstd.storage,
        runningMean: rm?.storage ?? null, runningVar: rv?.storage ?? null,
        inp: xd.storage, residual: residual ? rd.storage : null, weight: wd.storage, bias: bd.storage,
        N, C, HW, momentum, eps, act, sync,
      }),
    );
    if (nbt) native.add_scalar_i64(nbt.storage, 1, nbt.offset, 1);
    if (tracking)
      record(name, y, inputs, [x, weight, mean, invstd, ...extra], backward((dx, dw, db, g, xd, wd, ms, is, out, bd) =>
        native.batchnorm_backward({
          dinp: dx.storage, dweight: dw.storage, dbias: db.storage, dout: g.storage, out: out?.storage ?? null,
          inp: xd.storage, meanSaved: ms.storage, invstdSaved: is.storage, weight: wd.storage, bias: bd?.storage ?? null,
          N, C, HW, act, sync, count,
        }),
      ));
    mean.dispose();
    invstd.dispose();
    return y;
  }
  withDense([x, weight, bias, residual ?? x], (xd, wd, bd, rd) =>
    native.batchnorm_forward_eval({
      out: y.storage, inp: xd.storage, residual: residual ? rd.storage : null, runningMean: rm!.storage,
      runningVar: rv!.storage, weight: wd.storage, bias: bd.storage, N, C, HW, eps, act,
    }),
  );
  if (tracking) {
    // The running statistics as they were in this forward pass (a later training step
    // updates the buffers in place).
    const m0 = clone(rm!), v0 = clone(rv!);
    record(name, y, inputs, [x, weight, m0, v0, ...extra], backward((dx, dw, db, g, xd, wd, ms, vs, out, bd) =>
      native.batchnorm_backward_eval({
        dinp: dx.storage, dweight: dw.storage, dbias: db.storage, dout: g.storage, out: out?.storage ?? null,
        inp: xd.storage, runningMean: ms.storage, runningVar: vs.storage, weight: wd.storage, bias: bd?.storage ?? null,
        N, C, HW, eps, act,
      }),
    ));
    m0.dispose();
    v0.dispose();
  }
  return y;
}

