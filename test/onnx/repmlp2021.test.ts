// The ONNX export of the 2021 paper's models, checked by onnxruntime-node against repmlp's
// eval-mode forward at two batch sizes: RepMLP-ResNet with each block type (maps of several
// partitions and of one, non-square inputs and partitions), the pure-MLP CIFAR model, its Wide
// ConvNet and the ablations, reduced in width.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  buildModel, cifarPreset, exportOnnx, familyOf, randomizeBatchNorms, Rng, type CifarPresetName, type ModelConfig, type RepMLPResNetConfig,
} from '../../lib/index';
import { assertThrows, DEVICE } from '../helpers';
import { compareWithOrt, decodeOnnx, openSession, STANDARD_OPS } from './ort';

const RESNET: RepMLPResNetConfig = {
  arch: 'RepMLPResNet', numBlocks: [1, 2, 2, 1], numClasses: 5, blockType: 'light', imgH: 64, imgW: 32, h: 4, w: 2,
  reparamConvK: [1, 3], fc1Fc2Reduction: 2, fc3Groups: 2, stemChannels: 8, channels: [16, 32, 32, 32],
};
const small = (name: CifarPresetName) => cifarPreset(name, { channels: [8, 16, 16], h: 4, w: 4, imgW: 16, inChannels: 1 });

const CASES: [string, ModelConfig][] = [
  ['RepMLP-ResNet light', RESNET],
  ['RepMLP-ResNet bottleneck', { ...RESNET, blockType: 'bottleneck', channels: [16, 64, 64, 32], fc3Groups: 4 }],
  ['ResNet (base)', { ...RESNET, blockType: 'base' }],
  ...(['RepMLP-CIFAR-MLP', 'RepMLP-CIFAR-WideConvNet', 'RepMLP-CIFAR-MLP-wo-Local', 'RepMLP-CIFAR-MLP-wo-Global', 'RepMLP-CIFAR-MLP-FC3-conv9', 'RepMLP-CIFAR-MLP-RepMLP-conv9'] as const)
    .map((n): [string, ModelConfig] => [`${n} (reduced)`, small(n)]),
];

CASES.forEach(([name, config], i) => {
  test(`exportOnnx: ${name}: onnxruntime agrees with the training form at batch 1 and 3`, async () => {
    const rng = new Rng(20 + i);
    const model = buildModel(config, { rng, device: DEVICE });
    randomizeBatchNorms(model, rng, 0.3);
    model.eval();
    try {
      const bytes = exportOnnx(model);
      assert.not.ok(model.deploy, 'the model itself stays in the training form');
      const m = decodeOnnx(bytes);
      for (const n of m.nodes) assert.ok(STANDARD_OPS.has(n.opType) && n.domain === '', `standard op ${n.opType}`);
      assert.not.ok(m.nodes.some((n) => n.opType === 'BatchNormalization'), 'every BN folded');
      const worst = await compareWithOrt(await openSession(bytes), model, familyOf(config).inputShape(config), [1, 3], new Rng(i));
      console.log(`  ${name}: worst relative difference onnxruntime vs repmlp ${worst.toExponential(2)} (${bytes.length} bytes, ${m.nodes.length} nodes)`);
      assert.ok(worst <= 1e-4, `relative difference ${worst}`);
    } finally {
      model.dispose();
    }
  });
});

test('exportOnnx: the 2021 models take only the input size they are built for', () => {
  const model = buildModel(RESNET, { device: DEVICE });
  assertThrows(() => exportOnnx(model, { inputSize: 64 }), /^exportOnnx: expected the input size the RepMLPResNet config is built for, 64 x 32 for inputSize but received 64$/);
  assert.ok(exportOnnx(model, { inputSize: [64, 32] }).length > 0);
  model.dispose();
});

test.run();
