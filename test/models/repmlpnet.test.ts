import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  crossEntropy, memoryStats, RepMLPBlock, type RepMLPBlockOptions, parameterCount, preset, presetNames, RepMLPNet, Rng, scope, stateDictShapes, tensor,
  type PresetName, type RepMLPNetConfig, type Tensor,
} from '../../lib/index';
import { readSafetensors, type HostTensor } from '../../lib/io/safetensors';
import { assertClose, assertNoLeak, assertThrows, DEVICE, fromHost, liveStorages } from '../helpers';

const golden = readSafetensors(path.join(__dirname, '..', 'fixtures', 'repmlpnet.safetensors'));

function get(key: string): HostTensor {
  const t = golden.get(key);
  if (!t) throw new Error(`fixture repmlpnet: no tensor '${key}' (regenerate with npm run fixtures)`);
  return t;
}

// The entries '<prefix>.<key>' as a state dict keyed '<key>'.
function section(prefix: string): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const [k, v] of golden) if (k.startsWith(`${prefix}.`)) out.set(k.slice(prefix.length + 1), v);
  return out;
}

// The configs of test/fixtures/gen_repmlpnet.py.
const CONFIGS: Record<string, RepMLPNetConfig> = {
  // maps twice the partition size (h != w in stage 1), conv branches 1, 3, 5, a stage with S = 1;
  // the paper's order of partitions, as the PyTorch model of gen_repmlpnet.py computes it
  part: {
    inChannels: 3, numClasses: 5, patchSize: 2, numBlocks: [1, 1], channels: [8, 16], hs: [4, 2], ws: [2, 2],
    sharesetsNums: [1, 4], reparamConvK: [1, 3, 5], partitionOrder: 'paper',
  },
  // `small` at reduced width and depth, 1-channel input
  small: { ...preset('small', { inChannels: 1 }), numBlocks: [1, 1, 1], channels: [8, 16, 32], hs: [8, 4, 2], ws: [8, 4, 2] },
};

// float32 against float64 PyTorch through a whole network (BN in training mode included)
const FWD = { rtol: 2e-5, atol: 1e-7 };
// Some gradients are zero in exact arithmetic (a bias or a 1x1 depthwise scale followed by
// a training-mode BN further on): torch's float64 gives ~1e-12, float32 ~1e-8, hence atol.
const GRAD = { rtol: 2e-4, atol: 5e-7 };

// tol null: bit-exact.
function compareState(name: string, actual: Map<string, HostTensor>, expected: Map<string, HostTensor>, tol: typeof FWD | null = FWD): void {
  assert.equal([...actual.keys()].sort(), [...expected.keys()].sort(), `${name}: keys`);
  for (const [k, e] of expected) {
    const a = actual.get(k)!;
    assert.equal(a.shape, e.shape, `${name} ${k}: shape`);
    assert.is(a.dtype, e.dtype, `${name} ${k}: dtype`);
    if (e.dtype === 'int64' || tol === null) assert.equal([...a.data], [...e.data], `${name} ${k}`);
    else assertClose(`repmlpnet ${name} ${k}`, a.data as Float32Array, e, tol);
  }
}

for (const tag of Object.keys(CONFIGS)) {
  test(`RepMLPNet (${tag}): PyTorch state dict, train/eval forward, gradients, running statistics, Locality Injection`, () => {
    const cfg = CONFIGS[tag];
    const model = new RepMLPNet(cfg, { device: DEVICE, seed: 3 });
    const init = section(`${tag}.init`);
    assert.equal([...model.stateDict().keys()].sort(), [...init.keys()].sort(), 'the state dict keys are PyTorch\'s');
    model.loadStateDict(init);
    compareState('loaded state', model.stateDict(), init, null);

    const x = fromHost(get(`${tag}.x`));
    const labels = fromHost(get(`${tag}.labels`));
    scope(() => {
      const logits = model.forward(x);
      assertClose(`repmlpnet ${tag} train logits vs torch`, logits, get(`${tag}.train.logits`), FWD);
      const loss = crossEntropy(logits, labels, { labelSmoothing: 0.1 });
      assertClose(`repmlpnet ${tag} loss vs torch`, loss, get(`${tag}.train.loss`), FWD);
      loss.backward();
    });
    const grads = section(`${tag}.grad`);
    const params = new Map(model.namedParameters());
    assert.equal([...params.keys()].sort(), [...grads.keys()].sort(), 'parameters');
    for (const [k, g] of grads) {
      const p = params.get(k)!;
      assert.ok(p.grad, `${k} has a gradient`);
      assertClose(`repmlpnet ${tag} grad ${k} vs torch`, p.grad!, g, GRAD);
    }
    const buffers = section(`${tag}.buffers`);
    const ownBuffers = new Map([...model.stateDict()].filter(([k]) => buffers.has(k)));
    compareState(`${tag} buffers after a training step`, ownBuffers, buffers);
    assert.is(ownBuffers.size, model.namedBuffers().length);
    model.zeroGrad();
    assert.ok(model.parameters().every((p) => p.grad === null));

    model.eval();
    const evalLogits = scope(() => model.forward(x));
    assertClose(`repmlpnet ${tag} eval logits vs torch`, evalLogits, get(`${tag}.eval.logits`), FWD);

    // Locality Injection: the deploy form of the reference, and the same outputs
    const before = liveStorages();
    model.localityInjection();
    assert.ok(model.deploy);
    for (const b of model.blocks()) assert.ok(b.deploy && b.fc3Bn === null && b.repconv(1) === null);
    const deploy = section(`${tag}.deploy`);
    deploy.delete('logits');
    compareState(`${tag} deploy state dict`, model.stateDict(), deploy);
    assert.ok(liveStorages().cpuBuffers + liveStorages().cudaBuffers <= before.cpuBuffers + before.cudaBuffers, 'the injection frees what it replaced');
    const depLogits = scope(() => model.forward(x));
    assertClose(`repmlpnet ${tag} deploy logits vs torch`, depLogits, get(`${tag}.deploy.logits`), FWD);
    assertClose(`repmlpnet ${tag} deploy vs train form (same model)`, depLogits, evalLogits, { rtol: 1e-5, atol: 1e-7 });

    // A deploy-form model built from the config loads the reference's deploy state dict.
    const dep = new RepMLPNet({ ...cfg, deploy: true }, { device: DEVICE });
    dep.loadStateDict(deploy);
    dep.eval();
    const depLogits2 = scope(() => dep.forward(x));
    assertClose(`repmlpnet ${tag} deploy-form model vs torch`, depLogits2, get(`${tag}.deploy.logits`), FWD);

    for (const t of [x, labels, evalLogits, depLogits, depLogits2]) t.dispose();
    model.dispose();
    dep.dispose();
  });
}

// A block's state with random BN statistics and affine parameters (so fusing matters).
function randomizeBns(m: RepMLPBlock, rng: Rng): void {
  const sd = m.stateDict();
  for (const [k, v] of sd) {
    if (v.dtype !== 'float32' || !/(bn|fc3_bn)\.(weight|bias|running_mean|running_var)$/.test(k)) continue;
    const d = v.data as Float32Array;
    for (let i = 0; i < d.length; i++)
      d[i] = k.endsWith('running_var') ? 0.5 + 1.5 * rng.uniform() : k.endsWith('weight') ? 0.5 + rng.uniform() : 0.3 * rng.normal();
  }
  m.loadStateDict(sd);
}

test('RepMLPBlock: Locality Injection keeps eval outputs (h != w, partitions, no conv branches, S = C)', () => {
  const rng = new Rng(9);
  const cases: [number, RepMLPBlockOptions, number[]][] = [
    [6, { h: 3, w: 2, S: 2, reparamConvK: [3, 5] }, [2, 6, 6, 4]],
    [4, { h: 2, w: 2, S: 4, reparamConvK: [], globalPerceptronReduce: 2 }, [3, 4, 4, 2]],
    [4, { h: 1, w: 3, S: 1, reparamConvK: [1] }, [2, 4, 2, 3]],
  ];
  for (const [C, opts, shape] of cases) {
    const block = new RepMLPBlock(C, opts, { rng, device: DEVICE });
    randomizeBns(block, rng);
    block.eval();
    const x = tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b) }, () => rng.normal()), shape, { device: DEVICE });
    const y0 = scope(() => block.forward(x));
    block.localityInjection();
    const keys = [...block.stateDict().keys()];
    assert.ok(keys.includes('fc3.bias') && !keys.some((k) => k.startsWith('fc3_bn') || k.startsWith('repconv')), keys.join());
    const y1 = scope(() => block.forward(x));
    assertClose(`RepMLPBlock ${JSON.stringify(opts)} deploy vs train form`, y1, y0, { rtol: 1e-5, atol: 1e-7 });
    // a second injection is a no-op
    block.localityInjection();
    assert.equal([...block.stateDict().keys()], keys);
    for (const t of [x, y0, y1]) t.dispose();
    block.dispose();
  }
});

test('RepMLPNet: forwardFeatures returns every stage output', () => {
  const model = new RepMLPNet(CONFIGS.part, { device: DEVICE });
  const x = fromHost(get('part.x'));
  scope(() => {
    const feats = model.forwardFeatures(x);
    assert.equal(feats.map((f) => [...f.shape]), [[2, 8, 8, 8], [2, 16, 4, 4]]);
  });
  x.dispose();
  model.dispose();
});

test('loadStateDict: one error lists missing, unexpected and mis-shaped keys', () => {
  const model = new RepMLPNet(CONFIGS.part, { device: DEVICE });
  const sd = section('part.init');
  sd.delete('head.bias');
  sd.delete('stages.0.0.repmlp_block.repconv3.bn.running_var');
  sd.set('stages.0.0.repmlp_block.fc3.bias', { dtype: 'float32', shape: [8], data: new Float32Array(8) });
  sd.set('head.weight', { dtype: 'float32', shape: [5, 15], data: new Float32Array(75) });
  sd.set('head_norm.num_batches_tracked', { dtype: 'float32', shape: [], data: new Float32Array(1) });
  const headBefore = model.head.weight.toFloat32Array();
  assertThrows(
    () => model.loadStateDict(sd),
    /^loadStateDict: the state dict does not fit RepMLPNet: missing keys: stages\.0\.0\.repmlp_block\.repconv3\.bn\.running_var, head\.bias; unexpected keys: stages\.0\.0\.repmlp_block\.fc3\.bias; mis-shaped keys: head_norm\.num_batches_tracked: expected int64 \(\) but received float32 \(\); head\.weight: expected float32 \(5, 16\) but received float32 \(5, 15\)$/,
  );
  assert.equal(model.head.weight.toFloat32Array(), headBefore, 'nothing was loaded');
  // non-strict: missing and unexpected keys are reported, mis-shaped ones still throw
  assertThrows(() => model.loadStateDict(sd, { strict: false }), /mis-shaped keys: head_norm\.num_batches_tracked/);
  sd.set('head.weight', get('part.init.head.weight'));
  sd.set('head_norm.num_batches_tracked', get('part.init.head_norm.num_batches_tracked'));
  const res = model.loadStateDict(sd, { strict: false });
  assert.equal(res.missing, ['stages.0.0.repmlp_block.repconv3.bn.running_var', 'head.bias']);
  assert.equal(res.unexpected, ['stages.0.0.repmlp_block.fc3.bias']);
  assertClose('non-strict load', model.head.weight, get('part.init.head.weight'), { rtol: 0, atol: 0 });
  assertThrows(() => model.loadStateDict({} as never), /loadStateDict: expected a Map of host tensors for state but received Object/);
  model.dispose();
});

// Exact counts of the training form (numClasses 1000, inChannels 3), and the paper's
// figures in millions (it rounds, to within 0.06 M of these).
const TABLE: Record<string, [number, number]> = {
  'RepMLPNet-T224': [38_293_608, 38.3],
  'RepMLPNet-B224': [68_242_712, 68.2],
  'RepMLPNet-T256': [58_687_848, 58.7],
  'RepMLPNet-B256': [96_447_512, 96.5],
  'RepMLPNet-D256': [86_887_648, 86.9],
  'RepMLPNet-L256': [117_641_560, 117.7],
};

test('presets: ImageNet parameter counts match the table', () => {
  for (const [name, [exact, millions]] of Object.entries(TABLE)) {
    const n = parameterCount(preset(name as PresetName));
    assert.is(n, exact, name);
    assert.ok(Math.abs(n / 1e6 - millions) <= 0.06, `${name}: ${n} vs ${millions} M`);
    // the deploy form trades fc3_bn and the conv branches for fc3's bias
    assert.ok(parameterCount(preset(name as PresetName, { deploy: true })) > n, `${name} deploy`);
  }
  assert.equal(presetNames.length, 8);
});

test('presets: parameterCount agrees with built models (both forms), overrides apply', () => {
  const small = preset('small', { inChannels: 1, numClasses: 7 });
  assert.is(small.inChannels, 1);
  assert.is(small.numClasses, 7);
  assert.equal(preset('cifar').channels, [128, 256]);
  const rect: RepMLPNetConfig = { ...CONFIGS.part, patchSize: [2, 1], ws: [2, 2] };
  for (const cfg of [CONFIGS.part, CONFIGS.small, small, rect, { ...CONFIGS.part, deploy: true }, { ...small, deploy: true }]) {
    const m = new RepMLPNet(cfg, { device: DEVICE });
    assert.is(m.parameterCount(), parameterCount(cfg));
    // the state dict a config implies, without building it: the built model's keys in order, and shapes
    const shapes = [...stateDictShapes(cfg)].map(([k, v]) => [k, v.shape]);
    assert.equal(shapes, [...m.stateDict()].map(([k, v]) => [k, v.shape]));
    m.dispose();
  }
  const m = new RepMLPNet(small);
  const before = m.parameterCount();
  m.localityInjection();
  assert.is(m.parameterCount(), parameterCount({ ...small, deploy: true }));
  assert.ok(m.parameterCount() !== before);
  m.dispose();
  assertThrows(() => preset('RepMLPNet-X' as PresetName), /preset: expected one of RepMLPNet-T224, .* for name but received 'RepMLPNet-X'/);
});

test('Module: seeded init within PyTorch bounds, modes, state keys, to, dispose', () => {
  const before = liveStorages();
  const a = new RepMLPNet(CONFIGS.part, { seed: 5 });
  const b = new RepMLPNet(CONFIGS.part, { rng: new Rng(5) });
  const sa = a.stateDict(), sb = b.stateDict();
  for (const [k, v] of sa) assert.equal(v.data, sb.get(k)!.data, `same seed, same ${k}`);
  const c = new RepMLPNet(CONFIGS.part, { seed: 6 });
  assert.not.equal(c.head.weight.toFloat32Array(), a.head.weight.toFloat32Array());
  // kaiming-uniform bounds: 1 / sqrt(fan_in)
  const bound = (w: Tensor, fanIn: number) => Math.max(...Array.from(w.toFloat32Array(), Math.abs)) <= 1 / Math.sqrt(fanIn);
  assert.ok(bound(a.head.weight, 16) && bound(a.head.bias!, 16));
  const blk = a.blocks()[1];
  assert.ok(bound(blk.fc3.weight, 4) && bound(blk.repconv(5)!.conv.weight, 25) && bound(blk.gp.fc1.weight, 16));
  assert.equal(blk.fc3.weight.shape, [16, 4, 1, 1]);
  assert.equal(blk.repconv(3)!.conv.weight.shape, [4, 1, 3, 3]);
  assert.equal(sa.get('stages.1.0.repmlp_block.fc3_bn.num_batches_tracked')!.shape, []);
  assert.is(sa.get('stages.1.0.repmlp_block.fc3_bn.num_batches_tracked')!.dtype, 'int64');
  assert.ok(a.parameters().every((p) => p.requiresGrad));
  assert.ok(a.training && blk.training);
  a.eval();
  assert.ok(!a.training && !blk.training && !blk.fc3Bn!.training);
  a.train();
  assert.ok(blk.fc3Bn!.training);
  assert.is(a.to('cpu'), a);
  // parameters survive scopes
  scope(() => new RepMLPNet(CONFIGS.part)).dispose();
  for (const m of [a, b, c]) m.dispose();
  assert.equal(liveStorages(), before);
  assertThrows(() => a.to('tpu' as never), /to: expected 'cpu' or 'cuda' for device but received 'tpu'/);
});

test('RepMLPNet: configs whose weights no device can hold are refused before anything is built', () => {
  const before = liveStorages();
  // every tensor made on any device goes through an allocator, from its cache or the system's
  const allocations = () => {
    const { cpu, cuda } = memoryStats();
    return cpu.systemAllocs + cpu.cacheHits + (cuda ? cuda.systemAllocs + cuda.cacheHits : 0);
  };
  const allocationsBefore = allocations();
  assertThrows(
    () => new RepMLPNet({ ...preset('small'), numBlocks: [100000, 2, 2] }),
    /^RepMLPNet: expected a config whose tensors fit in the cpu memory \(\d+\.\d GiB\) but received one that needs about 5\d\.\d GiB for its weights alone \(2\d\d\.\d GiB to train with AdamW\); numBlocks \[100000,2,2\]/,
  );
  assert.is(allocations(), allocationsBefore, 'refused before any tensor is allocated');
  assert.equal(liveStorages(), before);
});

test('RepMLPNet: a process under an address-space limit refuses what the limit cannot hold', () => {
  const script = `
    const { RepMLPNet, preset } = require(${JSON.stringify(path.join(__dirname, '..', '..', 'lib', 'index.ts'))});
    try { new RepMLPNet({ ...preset('small'), numBlocks: [25000, 2, 2] }); console.log('built'); }
    catch (e) { console.log(e.message); }`;
  // 12 GB of address space (the loader's WebAssembly needs most of 10) for 14 GB of weights:
  // the error names the limit, not the machine's memory (unless the machine has less).
  const limit = (Math.min(os.totalmem(), 12000000 * 1024) / 2 ** 30).toFixed(1).replace('.', '\\.');
  const res = spawnSync('bash', ['-c', `ulimit -v 12000000 && exec "${process.execPath}" -r tsx/cjs -e "$0"`, script], { encoding: 'utf8' });
  assert.is(res.status, 0, res.stderr);
  assert.match(res.stdout, new RegExp(`^RepMLPNet: expected a config whose tensors fit in the cpu memory \\(${limit} GiB\\) but received one that needs about 1[34]\\.\\d GiB`));
});

test('RepMLPNet: rejects bad configs and inputs with clear messages', () => {
  const cfg = CONFIGS.part;
  assertThrows(() => new RepMLPNet({ ...cfg, hs: [4] }), /^RepMLPNet: expected 2 entries \(one per stage, like numBlocks\) in 'hs' but received 1$/);
  assertThrows(() => new RepMLPNet({ ...cfg, channels: [8, 0] }), /^RepMLPNet: expected an array of positive integers for 'channels' but received \[8,0\]$/);
  assertThrows(() => new RepMLPNet({ ...cfg, numBlocks: [] }), /^RepMLPNet: expected at least one stage for 'numBlocks' but received \[\]$/);
  assertThrows(() => new RepMLPNet({ ...cfg, depth: 3 } as never), /^RepMLPNet: unknown field 'depth' \(fields: inChannels, numClasses, patchSize, /);
  assertThrows(() => new RepMLPNet({ ...cfg, numClasses: undefined } as never), /^RepMLPNet: missing field 'numClasses'$/);
  assertThrows(() => new RepMLPNet({ ...cfg, deploy: 'yes' } as never), /^RepMLPNet: expected a boolean for 'deploy' but received "yes"$/);
  assertThrows(() => new RepMLPNet(null as never), /^RepMLPNet: expected an object for config but received null$/);
  assertThrows(() => new RepMLPNet({ ...cfg, sharesetsNums: [3, 4] }), /RepMLPBlock: expected a divisor of the channels 8 for S but received 3/);
  assertThrows(() => new RepMLPNet({ ...cfg, reparamConvK: [1, 2] }), /RepMLPBlock: expected an array of odd kernel sizes for reparamConvK but received \[1, 2\]/);
  assertThrows(() => new RepMLPNet({ ...cfg, patchSize: 0 }), /^RepMLPNet: expected a positive integer or \[height, width\] of positive integers for 'patchSize' but received 0$/);
  assertThrows(() => new RepMLPNet({ ...cfg, patchSize: [2, 2, 2] as never }), /^RepMLPNet: expected a positive integer or \[height, width\] of positive integers for 'patchSize' but received \[2,2,2\]$/);
  const m = new RepMLPNet(cfg);
  const x = tensor(new Float32Array(2 * 3 * 14 * 14), [2, 3, 14, 14]);
  assertThrows(() => m.forward(x), /RepMLPNet: expected a height and width divisible by 4 \(patch 2, 2 stages\) for x but received shape \(2, 3, 14, 14\)/);
  const x1 = tensor(new Float32Array(2 * 1 * 16 * 16), [2, 1, 16, 16]);
  assertThrows(() => m.forward(x1), /RepMLPNet: expected shape \(\*, 3, \*, \*\) for x but received shape \(2, 1, 16, 16\)/);
  const y = tensor(new Float32Array(2 * 8 * 6 * 6), [2, 8, 6, 6]);
  assertThrows(() => m.blocks()[0].forward(y), /RepMLPBlock: expected a map whose height and width are multiples of 4 x 2 for x but received shape \(2, 8, 6, 6\)/);
  for (const t of [x, x1, y]) t.dispose();
  m.dispose();
});

test('RepMLPNet: no leaks in a training step or Locality Injection inside scopes', () => {
  const model = new RepMLPNet(CONFIGS.part, { device: DEVICE });
  const x = fromHost(get('part.x'));
  const labels = fromHost(get('part.labels'));
  assertNoLeak('RepMLPNet forward + backward', () => {
    scope(() => {
      crossEntropy(model.forward(x), labels, { labelSmoothing: 0.1 }).backward();
      model.eval();
      model.forward(x); // a graph that is never run
      model.train();
    });
    model.zeroGrad();
  }, 2);
  model.dispose();
  const before = liveStorages();
  scope(() => {
    const m = new RepMLPNet(CONFIGS.part, { device: DEVICE });
    m.localityInjection();
    m.dispose();
  });
  assert.equal(liveStorages(), before);
  x.dispose();
  labels.dispose();
});

test.run();
