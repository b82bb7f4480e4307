// FLOPs of a RepMLPNet as the paper counts them: multiply-adds (MACs) of the convolutions and
// fully-connected layers of the deploy form, for one image. Counted: the patch embedding and
// the stage-to-stage embeddings (k x k convs), fc3 (per partition an S-group (hw x hw) FC:
// C * (hw)^2 per partition, hw = h * w), the Global Perceptron's two FC layers (on the pooled
// vector), the FFN's two 1x1 convs (C -> 4C -> C) and the head. Not counted: BN, ReLU,
// pooling, the sigmoid gate and the additions (the paper omits them). For a training-form
// config the Local Perceptron's depthwise conv branches (C * k^2 per position) are added:
// what that form costs before Locality Injection.
import { fail, describe } from '../errors';
import type { RepMLPNetConfig } from './repmlpnet';

/** Multiply-adds of one forward pass of one `inputSize` x `inputSize` image. */
export function flops(cfg: RepMLPNetConfig, inputSize: number): number {
  if (!Number.isInteger(inputSize) || inputSize < 1) fail('flops', 'inputSize', 'a positive integer', describe(inputSize));
  const ch = cfg.channels;
  const n = cfg.numBlocks.length;
  const scale = cfg.patchSize * 2 ** (n - 1);
  if (inputSize % scale) fail('flops', 'inputSize', `a multiple of ${scale} (patch ${cfg.patchSize}, ${n} stages)`, describe(inputSize));
  const r = cfg.globalPerceptronReduce ?? 4;
  let side = inputSize / cfg.patchSize;
  let macs = cfg.inChannels * ch[0] * cfg.patchSize ** 2 * side * side;
  for (let i = 0; i < n; i++) {
    const C = ch[i], hw = cfg.hs[i] * cfg.ws[i];
    const positions = side * side;
    const partitions = positions / hw;
    let unit = 2 * C * Math.floor(C / r); // gp.fc1, gp.fc2
    unit += partitions * C * hw * hw; // fc3: C / S groups of S FCs (hw x hw) per partition
    unit += 2 * C * 4 * C * positions; // ffn_fc1, ffn_fc2
    if (!cfg.deploy) unit += cfg.reparamConvK.reduce((s, k) => s + C * k * k * positions, 0); // depthwise branches
    macs += cfg.numBlocks[i] * unit;
    if (i < n - 1) {
      side /= 2;
      macs += ch[i] * ch[i + 1] * 4 * side * side; // 2x2 stride-2 embedding
    }
  }
  return macs + ch[n - 1] * cfg.numClasses;
}
