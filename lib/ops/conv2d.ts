// conv2d: PyTorch F.conv2d(x, weight, bias, stride, padding, groups) on NCHW tensors
// (cross-correlation, zero padding). Backward computes only the gradients asked for:
// dx from the saved weight, dweight from the saved x, dbias from the output gradient alone.
import { record } from '../autograd';
import { checkSameDevice, checkTensor } from '../check';
import { describe, fail, shapeStr } from '../errors';
import { native, type Conv2dShape } from '../native';
import { Tensor } from '../tensor';
import { conv1x1 } from './conv1x1';
import { permute, reshape, withDense } from './views';

export interface Conv2dOptions {
  /** Step between windows: one number or [h, w]. Default 1. */
  stride?: number | readonly [number, number];
  /** Zeros added on each side: one number or [h, w]. Default 0. */
  padding?: number | readonly [number, number];
  /** Input and output channels are split into this many independent groups. Default 1. */
  groups?: number;
}

function pair(name: string, v: unknown, min: number): [number, number] {
  const ok = (d: unknown): d is number => typeof d === 'number' && Number.isInteger(d) && d >= min;
  if (ok(v)) return [v, v];
  if (Array.isArray(v) && v.length === 2 && ok(v[0]) && ok(v[1])) return [v[0], v[1]];
  return fail('conv2d', name, `an integer >= ${min} or a pair [h, w] of them`, describe(v));
}

/**
 * A convolution whose kernel tiles the input (kernel = stride, no padding, one group: the
 * patch embedding and the 2x2 stride-2 embeds) is a 1x1 convolution over the patches:
 * (N, Cin, Ho, kh, Wo, kw) -> (N, Cin*kh*kw, Ho, Wo) by one strided copy, then a GEMM.
 * Forward and backward run on the GEMM, which is much faster than the direct kernel here.
 */
function patchConv(x: Tensor, weight: Tensor, bias: Tensor | null): Tensor {
  const [N, Cin, H, W] = x.shape;
  const [Cout, , kh, kw] = weight.shape;
  const Ho = H / kh, Wo = W / kw;
  const tiles = reshape(x, [N, Cin, Ho, kh, Wo, kw]);
  const moved = permute(tiles, [0, 1, 3, 5, 2, 4]); // (N, Cin, kh, kw, Ho, Wo)
  const cols = reshape(moved, [N, Cin * kh * kw, Ho, Wo]);
  const w = reshape(weight, [Cout, Cin * kh * kw, 1, 1]);
  const y = conv1x1(cols, w, bias);
  // The autograd nodes hold their own references; these views are no longer needed.
  for (const t of [tiles, moved, cols, w]) t.dispose();
  return y;
}

/**
 * x: (N, Cin, H, W); weight: (Cout, Cin / groups, kh, kw); bias: (Cout) or null.
 * Returns (N, Cout, Ho, Wo) with Ho = floor((H + 2 padH - kh) / strideH) + 1, Wo likewise.
 */
export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null = null, opts: Conv2dOptions = {}): Tensor {
  checkTensor('conv2d', 'x', x, { ndim: 4 });
  checkTensor('conv2d', 'weight', weight, { ndim: 4 });
  if (bias !== null && bias !== undefined) checkTensor('conv2d', 'bias', bias, { ndim: 1 });
  if (typeof opts !== 'object' || opts === null) fail('conv2d', 'options', 'an object', describe(opts));
  const [sh, sw] = pair('stride', opts.stride ?? 1, 1);
  const [ph, pw] = pair('padding', opts.padding ?? 0, 0);
  const groups = opts.groups ?? 1;
  if (typeof groups !== 'number' || !Number.isInteger(groups) || groups < 1)
    fail('conv2d', 'groups', 'an integer >= 1', describe(groups));
  const [N, Cin, H, W] = x.shape;
  const [Cout, , kh, kw] = weight.shape;
  if (Cin % groups !== 0) fail('conv2d', 'x', `channels ${Cin} divisible by groups ${groups}`, `shape ${shapeStr(x.shape)}`);
  if (Cout % groups !== 0)
    fail('conv2d', 'weight', `output channels ${Cout} divisible by groups ${groups}`, `shape ${shapeStr(weight.shape)}`);
  if (weight.shape[1] !== Cin / groups)
    fail(
      'conv2d',
      'weight',
      `shape ${shapeStr([Cout, Cin / groups, kh, kw])} (x has ${Cin} channels in ${groups} group${groups > 1 ? 's' : ''})`,
      `shape ${shapeStr(weight.shape)}`,
    );
  if (kh < 1 || kw < 1) fail('conv2d', 'weight', 'a kernel of at least 1 x 1', `shape ${shapeStr(weight.shape)}`);
  if (kh > H + 2 * ph || kw > W + 2 * pw)
    fail('conv2d', 'weight', `a kernel no larger than the padded input ${H + 2 * ph} x ${W + 2 * pw}`, `shape ${shapeStr(weight.shape)}`);
  if (bias && bias.shape[0] !== Cout) fail('conv2d', 'bias', `shape (${Cout})`, `shape ${shapeStr(bias.shape)}`);
  const device = checkSameDevice('conv2d', { x, weight, bias });

  if (groups === 1 && kh === sh && kw === sw && ph === 0 && pw === 0 && H % kh === 0 && W % kw === 0)
    return patchConv(x, weight, bias ?? null);

  const Ho = Math.floor((H + 2 * ph - kh) / sh) + 1, Wo = Math.floor((W + 2 * pw - kw) / sw) + 1;
  const shape: Conv2dShape = { N, Cin, H, W, Cout, kh, kw, strideH: sh, strideW: sw, padH: ph, padW: pw, groups };
  // y: (N, Cout, Ho, Wo)
  const y = Tensor.empty([N, Cout, Ho, Wo], { device });
  withDense(bias ? [x, weight, bias] : [x, weight], (xd, wd, bd) =>
    native.conv2d_forward({ out: y.storage, inp: xd.storage, weight: wd.storage, bias: bd ? bd.storage : null, ...shape }),
  );

  // dx needs the weight, dweight needs x: save only what the gradients asked for will read.
  const saveX = weight.requiresGrad, saveW = x.requiresGrad;
  const saved = [...(saveX ? [x] : []), ...(saveW ? [weight] : [])];
  const inputs = bias ? [x, weight, bias] : [x, weight];
  const xShape = x.shape, wShape = weight.shape;
  return record('conv2d', y, inputs, saved, (g, s, needs) => {
    const xs = saveX ? s[0] : null, ws = saveW ? s[saveX ? 1 : 0] : null;
    const dx = needs[0] ? Tensor.empty(xShape, { device: g.device }) : null;
    const dw = needs[1] ? Tensor.empty(wShape, { device: g.device }) : null;
    const db = needs[2] ? Tensor.empty([Cout], { device: g.device }) : null;
    const dense = [g, ...(dw && xs ? [xs] : []), ...(dx && ws ? [ws] : [])];
    withDense(dense, (gd, ...rest) => {
      const xd = dw ? rest[0] : null, wd = dx ? rest[dw ? 1 : 0] : null;
      native.conv2d_backward({
        dinp: dx ? dx.storage : null, dweight: dw ? dw.storage : null, dbias: db ? db.storage : null,
        dout: gd.storage, inp: xd ? xd.storage : null, weight: wd ? wd.storage : null, ...shape,
      });
    });
    return bias ? [dx, dw, db] : [dx, dw];
  });
}
