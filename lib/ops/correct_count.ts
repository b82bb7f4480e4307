// The number of rows of logits (N, K) whose largest entry is at the label (int64 (N)), as a
// float32 scalar on the logits' device: torch's (logits.argmax(1) == labels).sum(), with
// argmax's rule for ties (the first) and NaN (the largest). Not differentiable. Adding it up
// on the device lets a training loop read its accuracy only when it logs.
import { checkSameDevice, checkTensor } from '../check';
import { fail, shapeStr } from '../errors';
import { native } from '../native';
import { Tensor } from '../tensor';
import { withDense } from './views';

export function correctCount(logits: Tensor, labels: Tensor): Tensor {
  const op = 'correctCount';
  checkTensor(op, 'logits', logits, { ndim: 2 });
  checkTensor(op, 'labels', labels, { ndim: 1, dtype: 'int64' });
  checkSameDevice(op, { logits, labels });
  const [N, K] = logits.shape;
  if (labels.shape[0] !== N) fail(op, 'labels', `${N} labels, one per row of logits ${shapeStr(logits.shape)}`, `shape ${shapeStr(labels.shape)}`);
  if (K < 1) fail(op, 'logits', 'at least one class', `shape ${shapeStr(logits.shape)}`);
  // out: () float32
  const out = Tensor.empty([], { device: logits.device });
  withDense([logits, labels], (z, y) => native.correct_count(out.storage, z.storage, y.storage, N, K));
  return out;
}
