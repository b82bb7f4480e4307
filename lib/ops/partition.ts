// Partition / un-partition of the RepMLP block (docs/MODELS.md): a feature map (N, C, H, W)
// is cut into (H/h)*(W/w) partitions of h x w, giving (N*(H/h)*(W/w), C, h, w); un-partition
// is the inverse. Built from views: when H = h and W = w (the classification presets) both
// are copy-free; otherwise the reshape after the permute makes one dense copy.
import { checkInt, checkTensor } from '../check';
import { fail, shapeStr } from '../errors';
import type { Tensor } from '../tensor';
import { permute, reshape } from './views';

export function partition(x: Tensor, h: number, w: number): Tensor {
  checkTensor('partition', 'x', x, { ndim: 4 });
  checkInt('partition', 'h', h);
  checkInt('partition', 'w', w);
  const [N, C, H, W] = x.shape;
  if (H % h || W % w) fail('partition', 'x', `a map whose height and width are multiples of ${h} x ${w}`, `shape ${shapeStr(x.shape)}`);
  // (N, C, H/h, h, W/w, w) -> (N, H/h, W/w, C, h, w) -> (N*(H/h)*(W/w), C, h, w)
  const v = reshape(x, [N, C, H / h, h, W / w, w]);
  const p = permute(v, [0, 2, 4, 1, 3, 5]);
  return reshape(p, [N * (H / h) * (W / w), C, h, w]);
}

export function unpartition(y: Tensor, H: number, W: number): Tensor {
  checkTensor('unpartition', 'y', y, { ndim: 4 });
  const [B, C, h, w] = y.shape;
  checkInt('unpartition', 'H', H);
  checkInt('unpartition', 'W', W);
  if (H % h || W % w || B % ((H / h) * (W / w)))
    fail('unpartition', 'y', `partitions of a ${H} x ${W} map`, `shape ${shapeStr(y.shape)}`);
  const N = B / ((H / h) * (W / w));
  // (N, H/h, W/w, C, h, w) -> (N, C, H/h, h, W/w, w) -> (N, C, H, W)
  const v = reshape(y, [N, H / h, W / w, C, h, w]);
  const p = permute(v, [0, 3, 1, 4, 2, 5]);
  return reshape(p, [N, C, H, W]);
}
