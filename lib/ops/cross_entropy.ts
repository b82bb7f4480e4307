// Cross-entropy of logits (N, K) against class indices (int64 (N), with optional label
// smoothing) or soft targets (float32 (N, K), as mixup / CutMix make), averaged over the
// batch: PyTorch's F.cross_entropy(logits, target, label_smoothing=eps). Returns a scalar.
// Backward (logits only): dlogits = (softmax * sum(q) - q) * dloss / N, where q is the
// smoothed target distribution; the forward saves per-row max and log-sum-exp (stats).
import { record } from '../autograd';
import { checkSameDevice, checkTensor } from '../check';
import { describe, fail, shapeStr } from '../errors';
import { native } from '../native';
import { Tensor } from '../tensor';
import { withDense } from './views';

export interface CrossEntropyOptions {
  /** eps in [0, 1]: the target distribution becomes (1 - eps) * target + eps / K. Default 0. */
  labelSmoothing?: number;
}

export function crossEntropy(logits: Tensor, target: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  const op = 'crossEntropy';
  checkTensor(op, 'logits', logits, { ndim: 2 });
  const [N, K] = logits.shape;
  if (K < 1) fail(op, 'logits', 'at least one class (K >= 1)', `shape ${shapeStr(logits.shape)}`);
  if (typeof target !== 'object' || target === null || (target as { isTensor?: unknown }).isTensor !== true)
    fail(op, 'target', 'a Tensor', describe(target));
  if (target.disposed) fail(op, 'target', 'a live tensor', 'a disposed one');
  const hard = target.dtype === 'int64';
  const fits = hard ? target.ndim === 1 && target.shape[0] === N : target.ndim === 2 && target.shape[0] === N && target.shape[1] === K;
  if (!fits)
    fail(op, 'target', `an int64 tensor of shape (${N}) or a float32 tensor of shape (${N}, ${K})`, `an ${target.dtype} tensor of shape ${shapeStr(target.shape)}`.replace('an float', 'a float'));
  checkSameDevice(op, { logits, target });
  const eps = opts.labelSmoothing ?? 0;
  if (typeof eps !== 'number' || !(eps >= 0 && eps <= 1)) fail(op, 'labelSmoothing', 'a number in [0, 1]', describe(eps));

  const device = logits.device;
  // loss: (), losses: (N) per-row scratch, stats: (N, 3)
  const loss = Tensor.empty([], { device });
  const losses = Tensor.empty([N], { device });
  const stats = Tensor.empty([N, 3], { device });
  const forward = hard ? native.cross_entropy_forward : native.cross_entropy_soft_forward;
  try {
    withDense([logits, target], (x, t) => forward(loss.storage, losses.storage, stats.storage, x.storage, t.storage, N, K, eps));
  } catch (e) {
    loss.dispose();
    stats.dispose();
    throw e;
  } finally {
    losses.dispose();
  }
  const backward = hard ? native.cross_entropy_backward : native.cross_entropy_soft_backward;
  record(op, loss, [logits], [stats, logits, target], (g, [s, x, t]) => {
    // dlogits: (N, K)
    const dx = Tensor.empty([N, K], { device: g.device });
    withDense([g, x, t], (gd, xd, td) => backward(dx.storage, gd.storage, s.storage, xd.storage, td.storage, N, K, eps));
    return [dx];
  });
  stats.dispose(); // the autograd node holds its own reference when it needs one
  return loss;
}
