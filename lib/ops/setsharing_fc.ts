// The set-sharing FC of the RepMLP block (fc3, the Channel Perceptron), exactly PyTorch's
//   F.conv2d(x.reshape(-1, S*h*w, 1, 1), weight, bias, groups=S).reshape(B, C, h, w)
// for x (B, C, h, w) with C divisible by S, weight (S*h*w, h*w, 1, 1), bias (S*h*w) or null.
// Read x as R = B*C/S rows of S*hw values: share-set s is the column block
// [s*hw, (s+1)*hw) and row block s of the weight is its (hw_out, hw_in) matrix W_s, so this is
// the grouped linear layer with S groups of hw -> hw (lib/ops/grouped_linear.ts: one
// strided-batched GEMM over s, no permute copies) on views of x, the weight and the output.
import { checkInt, checkSameDevice, checkTensor } from '../check';
import { fail, shapeStr } from '../errors';
import type { Tensor } from '../tensor';
import { groupedLinearAs } from './grouped_linear';
import { reshape } from './views';

const OP = 'setSharingFc';

export function setSharingFc(x: Tensor, weight: Tensor, S: number, h: number, w: number, bias: Tensor | null = null): Tensor {
  checkInt(OP, 'S', S);
  checkInt(OP, 'h', h);
  checkInt(OP, 'w', w);
  checkTensor(OP, 'x', x, { shape: [null, null, h, w] });
  const [B, C] = x.shape;
  if (C % S !== 0) fail(OP, 'x', `a channel count divisible by S = ${S}`, `shape ${shapeStr(x.shape)}`);
  const hw = h * w;
  checkTensor(OP, 'weight', weight, { shape: [S * hw, hw, 1, 1] });
  if (bias !== null) checkTensor(OP, 'bias', bias, { shape: [S * hw] });
  checkSameDevice(OP, { x, weight, bias });
  // rows: (B*C/S, S*hw); w2: (S*hw, hw); y: (B, C, h, w)
  const rows = reshape(x, [(B * C) / S, S * hw]);
  const w2 = reshape(weight, [S * hw, hw]);
  const out = groupedLinearAs(OP, rows, w2, bias, S);
  const y = reshape(out, [B, C, h, w]);
  for (const t of [rows, w2, out]) t.dispose();
  return y;
}
