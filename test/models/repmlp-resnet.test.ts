// RepMLP (the 2021 block) and RepMLP-ResNet against the PyTorch peer
// (bench/peers/repmlp_resnet_torch.py, test/fixtures/gen_repmlp_resnet.py): the reference's
// state-dict keys in both forms, training-mode outputs, every gradient, the running statistics,
// eval-mode outputs, the deploy state dict after Locality Injection and its outputs.
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RepMLP, RepMLPResNet, scope, type Module, type RepMLPResNetConfig, type Tensor } from '../../lib/index';
import { readSafetensors, type HostTensor } from '../../lib/io/safetensors';
import { Rng } from '../../lib/rng';
import { assertClose, DEVICE, fromHost, liveStorages } from '../helpers';

const golden = readSafetensors(path.join(__dirname, '..', 'fixtures', 'repmlp_resnet.safetensors'));

function get(key: string): HostTensor {
  const t = golden.get(key);
  if (!t) throw new Error(`fixture repmlp_resnet: no tensor '${key}' (regenerate with npm run fixtures)`);
  return t;
}

function section(prefix: string): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const [k, v] of golden) if (k.startsWith(`${prefix}.`)) out.set(k.slice(prefix.length + 1), v);
  return out;
}

// float32 against float64 PyTorch (training-mode BNs included); gradients that cancel in exact
// arithmetic (before a training-mode BN) are rounding noise, hence the atol.
const FWD = { rtol: 3e-5, atol: 1e-6 };
const GRAD = { rtol: 3e-4, atol: 2e-6 };

/** The worst difference (relative to the expected tensor's largest magnitude) of each mode, and where. */
const worst: Record<string, { rel: number; maxAbs: number; name: string }> = {};

function close(mode: string, name: string, actual: Tensor | ArrayLike<number>, expected: HostTensor, tol: typeof FWD): void {
  const d = assertClose(name, actual, expected, tol);
  if (!(d.rel <= (worst[mode]?.rel ?? -1))) worst[mode] = { ...d, name };
}

function compareState(mode: string, name: string, actual: Map<string, HostTensor>, expected: Map<string, HostTensor>): void {
  assert.equal([...actual.keys()].sort(), [...expected.keys()].sort(), `${name}: keys`);
  for (const [k, e] of expected) {
    const a = actual.get(k)!;
    assert.equal(a.shape, e.shape, `${name} ${k}: shape`);
    if (e.dtype === 'int64') assert.equal([...a.data], [...e.data], `${name} ${k}`);
    else close(mode, `${name} ${k}`, a.data as Float32Array, e, FWD);
  }
}

interface Model extends Module {
  forward(x: Tensor): Tensor;
  localityInjection(): unknown;
  readonly deploy: boolean;
}

// The cases of gen_repmlp_resnet.py.
const ctx = () => ({ rng: new Rng(5), device: DEVICE });
const BLOCKS: Record<string, (deploy: boolean) => Model> = {
  block_co: (deploy) => new RepMLP(4, 8, { H: 8, W: 6, h: 4, w: 3, reparamConvK: [1, 3], fc1Fc2Reduction: 2, fc3Groups: 2, deploy }, ctx()),
  block_nogp: (deploy) => new RepMLP(6, 6, { H: 3, W: 3, h: 3, w: 3, reparamConvK: [1, 3, 5], deploy }, ctx()),
  block_g4: (deploy) => new RepMLP(8, 8, { H: 4, W: 8, h: 2, w: 4, reparamConvK: [3], fc3Groups: 4, deploy }, ctx()),
};
const RESNET = {
  arch: 'RepMLPResNet', numBlocks: [1, 2, 2, 1], numClasses: 5, imgH: 64, imgW: 32, h: 4, w: 2, reparamConvK: [1, 3], fc1Fc2Reduction: 2, stemChannels: 8,
} as const;
export const RESNET_CONFIGS: Record<string, RepMLPResNetConfig> = {
  light: { ...RESNET, blockType: 'light', fc3Groups: 2, channels: [16, 32, 32, 32] },
  bottleneck: { ...RESNET, blockType: 'bottleneck', fc3Groups: 4, channels: [16, 64, 64, 32], reparamConvK: [1, 3, 5] },
  base: { ...RESNET, blockType: 'base', fc3Groups: 2, channels: [16, 32, 32, 32] },
};
const CASES: Record<string, (deploy: boolean) => Model> = {
  ...BLOCKS,
  ...Object.fromEntries(Object.entries(RESNET_CONFIGS).map(([k, cfg]) => [k, (deploy: boolean) => new RepMLPResNet({ ...cfg, deploy }, { device: DEVICE })])),
};

for (const [tag, make] of Object.entries(CASES)) {
  test(`${tag}: the PyTorch peer's state dict, train/eval outputs, gradients, running statistics, Locality Injection`, () => {
    const model = make(false);
    const init = section(`${tag}.init`);
    assert.equal([...model.stateDict().keys()].sort(), [...init.keys()].sort(), "the state dict's keys are the reference's");
    model.loadStateDict(init);
    const x = fromHost(get(`${tag}.x`), true);
    scope(() => {
      const y = model.forward(x);
      close('train', `${tag} train forward vs torch`, y, get(`${tag}.train.y`), FWD);
      y.backward(fromHost(get(`${tag}.w`)));
    });
    close('grad', `${tag} dx vs torch`, x.grad!, get(`${tag}.dx`), GRAD);
    const grads = section(`${tag}.grad`);
    const params = model.namedParameters();
    assert.equal(params.map(([k]) => k).sort(), [...grads.keys()].sort(), 'parameters');
    for (const [k, p] of params) close('grad', `${tag} grad ${k} vs torch`, p.grad!, grads.get(k)!, GRAD);
    const buffers = section(`${tag}.buffers`);
    compareState('buffers', `${tag} buffers after a training forward`, new Map([...model.stateDict()].filter(([k]) => buffers.has(k))), buffers);

    model.eval();
    const evalY = scope(() => model.forward(x));
    close('eval', `${tag} eval forward vs torch`, evalY, get(`${tag}.eval.y`), FWD);

    const before = liveStorages();
    model.localityInjection();
    assert.ok(model.deploy, 'deploy form');
    const deploy = section(`${tag}.deploy`);
    compareState('deploy state', `${tag} deploy state dict`, model.stateDict(), deploy);
    const after = liveStorages();
    assert.ok(after.cpuBuffers + after.cudaBuffers <= before.cpuBuffers + before.cudaBuffers, 'the injection frees what it replaced');
    const depY = scope(() => model.forward(x));
    close('deploy', `${tag} deploy forward vs torch`, depY, get(`${tag}.deployed.y`), FWD);

    // a deploy-form model built directly loads the reference's deploy state dict
    const dep = make(true);
    dep.loadStateDict(deploy);
    dep.eval();
    const depY2 = scope(() => dep.forward(x));
    close('deploy', `${tag} deploy-form model vs torch`, depY2, get(`${tag}.deployed.y`), FWD);
    for (const t of [x, evalY, depY, depY2]) t.dispose();
    model.dispose();
    dep.dispose();
  });
}

test("RepMLP: the reference's key order in both forms (PyTorch's registration order)", () => {
  const block = BLOCKS.block_co(false);
  const bn = (p: string) => ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked'].map((k) => `${p}.${k}`);
  const fc = ['fc1_fc2.fc1.weight', 'fc1_fc2.fc1.bias', 'fc1_fc2.fc2.weight', 'fc1_fc2.fc2.bias'];
  assert.equal([...block.stateDict().keys()], [...fc, ...bn('avg.bn'), 'fc3.weight', ...bn('fc3_bn'), 'repconv1.conv.weight', ...bn('repconv1.bn'), 'repconv3.conv.weight', ...bn('repconv3.bn')]);
  block.localityInjection();
  assert.equal([...block.stateDict().keys()], [...fc, 'fc3.weight', 'fc3.bias']);
  block.dispose();
});

test('the worst differences against PyTorch, by mode', () => {
  for (const mode of ['train', 'grad', 'buffers', 'eval', 'deploy state', 'deploy']) assert.ok(worst[mode] !== undefined, mode);
  if (process.env.REPMLP_VERBOSE === '1')
    for (const [m, w] of Object.entries(worst)) console.log(`${m}: rel ${w.rel.toExponential(2)}, abs ${w.maxAbs.toExponential(2)} (${w.name})`);
});

test.run();
