// FLOPs of a RepMLPNet as the paper counts them: multiply-adds (MACs) of the convolutions and
// fully-connected layers of the deploy form, for one image. Counted: the patch embedding and
// the stage-to-stage embeddings (k x k convs), fc3 (per partition an S-group (hw x hw) FC:
// C * (hw)^2 per partition, hw = h * w), the Global Perceptron's two FC layers (on the pooled
// vector), the FFN's two 1x1 convs (C -> 4C -> C) and the head. Not counted: BN, ReLU,
// pooling, the sigmoid gate and the additions (the paper omits them). For a training-form
// config the Local Perceptron's depthwise conv branches (C * k^2 per position) are added:
// what that form costs before Locality Injection.
import { describe, fail } from '../errors';
import { patchPair } from './geometry';
import type { RepMLPNetConfig } from './repmlpnet';

/** Multiply-adds of one forward pass of one image of `inputSize` (one number, or [height, width]). */
export function flops(cfg: RepMLPNetConfig, inputSize: number | readonly [number, number]): number {
  const [H, W] = typeof inputSize === 'number' ? [inputSize, inputSize] : inputSize;
  if (![H, W].every((d) => Number.isInteger(d) && d >= 1))
    fail('flops', 'inputSize', typeof inputSize === 'number' ? 'a positive integer' : 'a positive integer or [height, width] of them', describe(inputSize));
  const ch = cfg.channels;
  const n = cfg.numBlocks.length;
  const [ph, pw] = patchPair(cfg);
  const sh = ph * 2 ** (n - 1), sw = pw * 2 ** (n - 1);
  if (H % sh || W % sw) {
    const patch = ph === pw ? `patch ${ph}` : `patch ${ph} x ${pw}`;
    fail('flops', 'inputSize', `${sh === sw ? `a multiple of ${sh}` : `multiples of ${sh} x ${sw}`} (${patch}, ${n} stages)`, describe(inputSize));
  }
  const r = cfg.globalPerceptronReduce ?? 4;
  let rows = H / ph, cols = W / pw;
  let macs = cfg.inChannels * ch[0] * ph * pw * rows * cols;
  for (let i = 0; i < n; i++) {
    const C = ch[i], hw = cfg.hs[i] * cfg.ws[i];
    const positions = rows * cols;
    const partitions = positions / hw;
    let unit = 2 * C * Math.floor(C / r); // gp.fc1, gp.fc2
    unit += partitions * C * hw * hw; // fc3: C / S groups of S FCs (hw x hw) per partition
    unit += 2 * C * 4 * C * positions; // ffn_fc1, ffn_fc2
    if (!cfg.deploy) unit += cfg.reparamConvK.reduce((s, k) => s + C * k * k * positions, 0); // depthwise branches
    macs += cfg.numBlocks[i] * unit;
    if (i < n - 1) {
      rows /= 2;
      cols /= 2;
      macs += ch[i] * ch[i + 1] * 4 * rows * cols; // 2x2 stride-2 embedding
    }
  }
  return macs + ch[n - 1] * cfg.numClasses;
}
