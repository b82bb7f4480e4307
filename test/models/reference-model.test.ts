// RepMLPNet against a PyTorch model written from the reference code's semantics
// (test/fixtures/reference_model.py, gen_reference.py), configured in the reference code's
// names: at one partition per map both orders agree; at several, partitionOrder 'reference'
// gives the reference code's logits (training form, deploy form, training-mode gradients)
// and the default gives the paper's, with one warning naming the option. `rect` has a
// non-square patch (2 x 1), through the model and the ONNX export. The presets are the
// reference code's create_* models.
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  crossEntropy, exportOnnx, parameterCount, preset, presetNames, RepMLPNet, scope, stateDictShapes, validateConfig, type PartitionOrder, type ReferenceRepMLPNetConfig, type RepMLPNetConfig,
} from '../../lib/index';
import type { HostTensor } from '../../lib/io/safetensors';
import { assertClose, assertThrows, DEVICE, fixture, fixtureSection, fromHost } from '../helpers';
import { ortLogits, openSession } from '../onnx/ort';

const fixtures = path.join(__dirname, '..', 'fixtures');
const get = fixture('reference');
const section = (prefix: string) => fixtureSection('reference', prefix);

// The configs of gen_reference.py, in the reference code's names.
const REFERENCE_CONFIGS: Record<string, ReferenceRepMLPNetConfig> = {
  ref: {
    in_channels: 1, num_class: 10, patch_size: [8, 8], num_blocks: [1, 1], channels: [8, 16], hs: [4, 2], ws: [4, 2],
    sharesets_nums: [2, 4], reparam_conv_k: [1, 3], globalperceptron_reduce: 4, deploy: false,
  },
  rect: {
    in_channels: 2, num_class: 4, patch_size: [2, 1], num_blocks: [1, 1], channels: [4, 8], hs: [4, 2], ws: [4, 2],
    sharesets_nums: [2, 4], reparam_conv_k: [1, 3], globalperceptron_reduce: 4, deploy: false,
  },
};

// float32 against the float64 reference through the whole network
const FWD = { rtol: 2e-5, atol: 1e-7 };
const GRAD = { rtol: 2e-4, atol: 5e-7 };

interface Built {
  model: RepMLPNet;
  warnings: string[];
}

function build(tag: string, order?: PartitionOrder, sd = section(`${tag}.sd.model`), deploy = false): Built {
  const warnings: string[] = [];
  const cfg = { ...REFERENCE_CONFIGS[tag], deploy, ...(order ? { partitionOrder: order } : {}) } as ReferenceRepMLPNetConfig;
  const model = new RepMLPNet(cfg, { device: DEVICE, onWarning: (m) => warnings.push(m) });
  model.loadStateDict(sd);
  model.eval();
  return { model, warnings };
}

function logits(model: RepMLPNet, x: HostTensor): Float32Array {
  return scope(() => model.forward(fromHost(x)).toFloat32Array());
}

test('configs in the reference code\'s names are the camelCase configs; mixing the spellings of one field is refused', () => {
  const camel: RepMLPNetConfig = {
    inChannels: 1, numClasses: 10, patchSize: [8, 8], numBlocks: [1, 1], channels: [8, 16], hs: [4, 2], ws: [4, 2],
    sharesetsNums: [2, 4], reparamConvK: [1, 3], globalPerceptronReduce: 4, deploy: false,
  };
  assert.equal(validateConfig(REFERENCE_CONFIGS.ref), camel);
  // field by field, either spelling; the reference code's reparam_conv_k None is no conv branch
  const mixed = { in_channels: 1, numClasses: 10, patch_size: 8, numBlocks: [1], channels: [8], hs: [4], ws: [4], sharesets_nums: [2], reparam_conv_k: null };
  assert.equal(validateConfig(mixed as never), { inChannels: 1, numClasses: 10, patchSize: 8, numBlocks: [1], channels: [8], hs: [4], ws: [4], sharesetsNums: [2], reparamConvK: [], globalPerceptronReduce: 4, deploy: false });
  assertThrows(() => validateConfig({ ...camel, patch_size: [8, 8] } as never),
    /^RepMLPNet: 'patchSize' and 'patch_size' are one field in two spellings \(repmlp's and the reference code's\); give one of them$/);
  assertThrows(() => new RepMLPNet({ ...REFERENCE_CONFIGS.ref, num_classes: 3 } as never),
    /^RepMLPNet: unknown field 'num_classes' \(fields: inChannels, .*; or the reference code's in_channels, num_class, patch_size, /);
  assertThrows(() => validateConfig({ ...camel, partitionOrder: 'columns' } as never), /^RepMLPNet: expected 'paper' or 'reference' for 'partitionOrder' but received "columns"$/);
});

for (const tag of Object.keys(REFERENCE_CONFIGS)) {
  test(`${tag}: one partition per map: both orders give the reference code's logits, no warning`, () => {
    for (const order of [undefined, 'reference', 'paper'] as const) {
      const { model, warnings } = build(tag, order);
      assertClose(`${tag} own size, order ${order ?? 'default'} vs torch`, logits(model, get(`${tag}.x.own`)), get(`${tag}.out.own.reference`), FWD);
      assert.equal(warnings, []);
      model.dispose();
    }
  });

  test(`${tag}: several partitions per map: 'reference' is the reference code's order, the default the paper's (one warning)`, () => {
    const x = get(`${tag}.x.multi`);
    const ref = build(tag, 'reference');
    assertClose(`${tag} multi-partition, reference order vs torch`, logits(ref.model, x), get(`${tag}.out.multi.reference`), FWD);
    assert.equal(ref.warnings, []);
    const paper = build(tag);
    const a = logits(paper.model, x);
    logits(paper.model, x);
    assertClose(`${tag} multi-partition, paper order vs torch`, a, get(`${tag}.out.multi.paper`), FWD);
    assert.is(paper.warnings.length, 1, 'warned once');
    assert.match(paper.warnings[0], /cuts stage 1's map into 4 partitions, .*partitionOrder: 'reference' \(--partition-order reference\)/);
    // the orders really differ here, so that the comparisons above tell them apart
    const r = get(`${tag}.out.multi.reference`).data as Float32Array, p = get(`${tag}.out.multi.paper`).data as Float32Array;
    assert.ok(r.some((v, i) => Math.abs(v - p[i]) > 1e-2), `${tag}: the fixture's orders differ`);
    const explicit = build(tag, 'paper');
    logits(explicit.model, x);
    assert.equal(explicit.warnings, [], "partitionOrder: 'paper' chosen: no warning");
    // Locality Injection keeps the order: the deploy form gives the reference code's deploy logits
    ref.model.localityInjection();
    assertClose(`${tag} multi-partition, deploy form (reference order) vs torch`, logits(ref.model, x), get(`${tag}.out.multi.deploy`), FWD);
    for (const m of [ref, paper, explicit]) m.model.dispose();
  });

  test(`${tag}: training-mode forward and gradients in the reference code's order`, () => {
    const { model } = build(tag, 'reference');
    model.train();
    scope(() => {
      const out = model.forward(fromHost(get(`${tag}.x.multi`)));
      assertClose(`${tag} train-mode logits (reference order) vs torch`, out, get(`${tag}.out.train`), FWD);
      crossEntropy(out, fromHost(get(`${tag}.labels`)), { labelSmoothing: 0.1 }).backward();
    });
    for (const [k, p] of model.namedParameters()) assertClose(`${tag} grad ${k} (reference order) vs torch`, p.grad!, get(`${tag}.grad.${k}`), GRAD);
    model.dispose();
  });
}

test('rect: the ONNX export of a non-square patch in both orders runs in onnxruntime as the reference code and the paper compute it', async () => {
  const x = get('rect.x.multi');
  for (const order of ['reference', 'paper'] as const) {
    const { model } = build('rect', order);
    const warnings: string[] = [];
    const session = await openSession(exportOnnx(model, { inputSize: [16, 8], onWarning: (m) => warnings.push(m) }));
    assert.equal(warnings, []);
    const got = await ortLogits(session, x.data as Float32Array, x.shape);
    assertClose(`rect ONNX (${order} order) vs torch`, got.data, get(`rect.out.multi.${order}`), FWD);
    model.dispose();
  }
  // the default order warns at export too, through the option's callback
  const { model } = build('rect');
  const warnings: string[] = [];
  exportOnnx(model, { inputSize: [16, 8], onWarning: (m) => warnings.push(m) });
  assert.is(warnings.length, 1);
  assert.match(warnings[0], /^RepMLPNet: the 16 x 8 input cuts stage 1's map into 4 partitions/);
  model.dispose();
});

test("presets: the reference code's create_* models under its model_map names (parameters and state-dict keys, both forms)", () => {
  for (const name of presetNames.filter((n) => n.startsWith('RepMLPNet-')))
    for (const deploy of [false, true]) {
      const cfg = preset(name, { deploy });
      const [params, keys] = [...get(`presets.${name}.${deploy ? 'deploy' : 'train'}`).data].map(Number);
      assert.equal([parameterCount(cfg), stateDictShapes(cfg).size], [params, keys], `${name} deploy ${deploy}`);
    }
});

test.run();
