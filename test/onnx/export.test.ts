// exportOnnx checked by a third party: onnxruntime-node (CPU) runs the exported graph and its
// logits are compared with repmlp's eval-mode forward at two batch sizes. The models live on
// the device under test (the export reads their weights back to the host).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { exportOnnx, ONNX_IR_VERSION, ONNX_OPSET, randomizeBatchNorms, RepMLPNet, Rng, writeOnnx, type RepMLPNetConfig } from '../../lib/index';
import { packageVersion } from '../../lib/info';
import { assertNoLeak, assertThrows, DEVICE } from '../helpers';
import { compareWithOrt, decodeOnnx, FLOAT, INT64, openSession, STANDARD_OPS, type DecodedModel } from './ort';

interface Case {
  name: string;
  config: RepMLPNetConfig;
  /** input [H, W] (undefined: the config's) */
  inputSize?: [number, number];
  H: number;
  W: number;
}

const CASES: Case[] = [
  {
    // several partitions per map with h != w (stage 1: 8 x 16 map in 4 x 2 parts; stage 2:
    // 4 x 8 in 2 x 4), S = 1 then S = 4, three conv branches
    name: 'partitioned, S 1 and 4',
    config: {
      inChannels: 3, numClasses: 5, patchSize: 2, numBlocks: [1, 2], channels: [8, 16], hs: [4, 2], ws: [2, 4],
      sharesetsNums: [1, 4], reparamConvK: [1, 3, 5], partitionOrder: 'paper',
    },
    inputSize: [16, 32], H: 16, W: 32,
  },
  {
    // the reduced `small` model: one partition per map, S 2, 4, 8, one input channel
    name: 'small (reduced), S 2, 4, 8',
    config: {
      inChannels: 1, numClasses: 10, patchSize: 2, numBlocks: [1, 1, 1], channels: [8, 16, 32], hs: [8, 4, 2], ws: [8, 4, 2],
      sharesetsNums: [2, 4, 8], reparamConvK: [1, 3], partitionOrder: 'paper',
    },
    H: 16, W: 16,
  },
  {
    // one stage, S = C (a share-set per channel), no conv branches, 2 x 2 partitions, patch 4
    name: 'S = C, no branches, patch 4',
    config: {
      inChannels: 2, numClasses: 3, patchSize: 4, numBlocks: [2], channels: [8], hs: [2], ws: [4],
      sharesetsNums: [8], reparamConvK: [], globalPerceptronReduce: 2, partitionOrder: 'paper',
    },
    inputSize: [16, 32], H: 16, W: 32,
  },
];

function build(config: RepMLPNetConfig, seed: number, deploy = false): RepMLPNet {
  const rng = new Rng(seed);
  const model = new RepMLPNet({ ...config, deploy }, { rng, device: DEVICE });
  randomizeBatchNorms(model, rng, 0.3);
  return model.eval();
}

function opTypes(m: DecodedModel): Set<string> {
  return new Set(m.nodes.map((n) => n.opType));
}

CASES.forEach((c, ci) => {
  test(`exportOnnx: ${c.name}: onnxruntime agrees with the training form at batch 1 and 3`, async () => {
    const model = build(c.config, 10 + ci);
    try {
      const bytes = exportOnnx(model, c.inputSize ? { inputSize: c.inputSize } : {});
      assert.not.ok(model.deploy, 'the model itself stays in the training form');
      const session = await openSession(bytes);
      const worst = await compareWithOrt(session, model, [c.config.inChannels, c.H, c.W], [1, 3], new Rng(ci));
      console.log(`  ${c.name}: worst relative difference onnxruntime vs repmlp ${worst.toExponential(2)} (${bytes.length} bytes)`);
      assert.ok(worst <= 1e-4, `relative difference ${worst}`);
    } finally {
      model.dispose();
    }
  });
});

test('exportOnnx: a deploy-form model exports the same graph as its training form', async () => {
  const c = CASES[0];
  const train = build(c.config, 3);
  const deploy = new RepMLPNet({ ...c.config, deploy: false }, { seed: 0, device: DEVICE });
  try {
    deploy.loadStateDict(train.stateDict());
    deploy.eval().localityInjection();
    const a = decodeOnnx(exportOnnx(train, { inputSize: c.inputSize }));
    const b = decodeOnnx(exportOnnx(deploy, { inputSize: c.inputSize }));
    assert.equal(a.nodes, b.nodes);
    const session = await openSession(exportOnnx(deploy, { inputSize: c.inputSize }));
    const worst = await compareWithOrt(session, deploy, [3, c.H, c.W], [2, 5], new Rng(7));
    assert.ok(worst <= 1e-4, `relative difference ${worst}`);
  } finally {
    train.dispose();
    deploy.dispose();
  }
});

test('exportOnnx: opset, IR version, producer, dynamic batch, standard ops only, raw float32 weights', () => {
  const c = CASES[0];
  const model = build(c.config, 4);
  try {
    const m = decodeOnnx(exportOnnx(model, { inputSize: c.inputSize }));
    assert.is(m.irVersion, ONNX_IR_VERSION);
    assert.is(ONNX_OPSET >= 13, true);
    assert.equal(m.opsets, [['', ONNX_OPSET]]);
    assert.is(m.producerName, 'repmlp');
    assert.is(m.producerVersion, packageVersion());
    assert.equal(m.inputs, [{ name: 'input', dims: ['batch', 3, 16, 32] }]);
    assert.equal(m.outputs, [{ name: 'logits', dims: ['batch', 5] }]);
    // every op is a standard one, in the default domain
    for (const n of m.nodes) assert.is(n.domain, '', `${n.name} domain`);
    const ops = opTypes(m);
    for (const op of ops) assert.ok(STANDARD_OPS.has(op), `non-standard op ${op}`);
    for (const op of ['Conv', 'BatchNormalization', 'MatMul', 'Erf', 'Gemm', 'Transpose']) assert.ok(ops.has(op), `uses ${op}`);
    // every Reshape infers at most one dimension and keeps no batch size fixed
    const inits = new Map(m.initializers.map((t) => [t.name, t]));
    for (const n of m.nodes.filter((x) => x.opType === 'Reshape')) {
      const shape = inits.get(n.input[1])!;
      assert.is(shape.dataType, INT64);
      const raw = shape.rawData;
      const v = new BigInt64Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
      assert.is([...v].filter((d) => d === -1n).length, 1, `${n.name} shape [${v}]`);
    }
    // weights are float32 raw_data; fc3 of stage 2 (S = 4, 2 x 4 partition) as (S, hw, hw)
    for (const t of m.initializers) assert.ok(t.dataType === FLOAT || t.dataType === INT64, t.name);
    const fc3 = inits.get('stages.1.0.repmlp_block.fc3.weight')!;
    assert.equal(fc3.dims, [4, 8, 8]);
    assert.is(fc3.rawData.byteLength, 4 * 4 * 8 * 8);
  } finally {
    model.dispose();
  }
});

test('exportOnnx: a copy does the conversion and is freed; the model is untouched', () => {
  const c = CASES[1];
  const model = build(c.config, 5);
  try {
    const before = model.stateDict();
    assertNoLeak('exportOnnx', () => void exportOnnx(model));
    const after = model.stateDict();
    assert.equal([...after.keys()], [...before.keys()]);
    for (const [k, v] of before) assert.equal(after.get(k)!.data, v.data, k);
  } finally {
    model.dispose();
  }
});

test('writeOnnx: writes the exported bytes atomically (no temporary file left) and sums them up', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'repmlp-onnx-'));
  const c = CASES[2];
  const model = build(c.config, 6);
  try {
    const file = path.join(dir, 'sub', 'model.onnx');
    const summary = writeOnnx(file, model, { inputSize: c.inputSize });
    const bytes = new Uint8Array(fs.readFileSync(file));
    assert.equal(bytes, new Uint8Array(exportOnnx(model, { inputSize: c.inputSize })));
    assert.equal(fs.readdirSync(path.join(dir, 'sub')), ['model.onnx']);
    const m = decodeOnnx(bytes);
    const counts = new Map<string, number>();
    for (const n of m.nodes) counts.set(n.opType, (counts.get(n.opType) ?? 0) + 1);
    const floats = m.initializers.filter((t) => t.dataType === FLOAT).reduce((a, t) => a + t.rawData.byteLength / 4, 0);
    assert.equal(summary, {
      bytes: bytes.byteLength, opset: ONNX_OPSET, irVersion: ONNX_IR_VERSION,
      input: { name: 'input', dims: ['batch', 2, 16, 32] }, output: { name: 'logits', dims: ['batch', 3] },
      nodes: m.nodes.length, ops: [...counts].sort((a, b) => b[1] - a[1]), initializers: m.initializers.length, parameters: floats,
    });
    assert.is(summary.ops.find(([op]) => op === 'MatMul')![1], 2);
  } finally {
    model.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('exportOnnx: errors name the function, the argument, what was expected and what came', () => {
  const c = CASES[0];
  const model = build(c.config, 8);
  try {
    assertThrows(() => exportOnnx({} as RepMLPNet), /^exportOnnx: expected a RepMLPNet for model but received Object$/);
    assertThrows(() => exportOnnx(model, { inputSize: [16, 24] }),
      /^exportOnnx: expected a height and width whose stage-2 map \(input \/ 4\) is a multiple of its partition 2 x 4 for inputSize but received 16 x 24 \(stage-2 map 4 x 6\)$/);
    assertThrows(() => exportOnnx(model, { inputSize: 18 }), /^exportOnnx: expected .*stage-1 map \(input \/ 2\).* but received 18 x 18 \(stage-1 map 9 x 9\)$/);
    assertThrows(() => exportOnnx(model, { inputSize: [16, 0] }), /^exportOnnx: expected positive integers for inputSize but received \[16, 0\]$/);
    assertThrows(() => exportOnnx(model, { inputSize: 'big' as unknown as number }), /^exportOnnx: expected a positive integer or \[height, width\] for inputSize but received 'big'$/);
    assertThrows(() => writeOnnx('', model), /^writeOnnx: expected a file path for file but received ''$/);
  } finally {
    model.dispose();
  }
});

test('onnxruntime rejects an input whose shape is not the exported one', async () => {
  const c = CASES[1];
  const model = build(c.config, 9);
  try {
    const session = await openSession(exportOnnx(model));
    let message = '';
    try {
      await compareWithOrt(session, model, [1, 32, 32], [1], new Rng(1));
    } catch (e) {
      message = (e as Error).message;
    }
    assert.match(message, /invalid dimensions for input: input/i, message);
  } finally {
    model.dispose();
  }
});

test.run();
