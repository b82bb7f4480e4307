// writePth checked by PyTorch itself: Debian's torch (/usr/bin/python3, python3-torch) reads
// what repmlp writes with torch.load(path, weights_only=True), and a model trained in repmlp
// and its deploy form load into the reference code's RepMLPNet with load_state_dict(strict=True)
// and give repmlp's logits; torch saves them again and repmlp reads back the same tensors
// (test/fixtures/torch_roundtrip.py). This suite needs that Python; without it the tests fail
// with a message saying so.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { crossEntropy, randn, RepMLPNet, Rng, scope, SGD, tensor, type ReferenceRepMLPNetConfig } from '../../lib/index';
import { readPth } from '../../lib/io/pth';
import { writePth } from '../../lib/io/pth-write';
import { readSafetensors, writeSafetensors, type HostTensor } from '../../lib/io/safetensors';
import { assertClose } from '../helpers';
import { scratchDir } from '../cli/run-cli';

const PYTHON = '/usr/bin/python3';
const script = path.join(__dirname, '..', 'fixtures', 'torch_roundtrip.py');
const configFile = path.join(__dirname, '..', 'fixtures', 'ref_config.json');
const tmp = scratchDir('pth-torch');
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function torch(...args: string[]): void {
  const r = spawnSync(PYTHON, [script, ...args], { encoding: 'utf8', cwd: path.dirname(script) });
  if (r.error) throw new Error(`this test needs ${PYTHON} with Debian's python3-torch: ${r.error.message}`);
  assert.is(r.status, 0, `torch_roundtrip.py ${args[0]} failed:\n${r.stderr}`);
}

const host = (dtype: 'float32' | 'int64', shape: number[], values: number[]): HostTensor =>
  ({ dtype, shape, data: dtype === 'int64' ? BigInt64Array.from(values, BigInt) : Float32Array.from(values) });

test('torch.load(weights_only=True) reads writePth: dtypes, shapes, scalars, empty tensors, 64-byte aligned stored entries', () => {
  const sd = new Map<string, HostTensor>([
    ['conv.weight', host('float32', [2, 1, 2, 3], [0.5, -1.25, 3, 1e-8, -0, 7, 8, 9, 10, 11, 12, 13])],
    ['bn.num_batches_tracked', host('int64', [], [7])],
    ['big', host('int64', [3], [-5, 2 ** 40, 0])],
    ['empty', host('float32', [0, 4], [])],
    ['five.d', host('float32', [1, 2, 1, 1, 2], [1, 2, 3, 4])],
  ]);
  const file = path.join(tmp, 'tensors.pth');
  writePth(file, sd);
  torch('tensors', file, path.join(tmp, 'tensors.json'));
  const seen = JSON.parse(fs.readFileSync(path.join(tmp, 'tensors.json'), 'utf8')) as {
    type: string; entries: [string, number, number][]; tensors: Record<string, [string, number[], number[]]>;
  };
  assert.is(seen.type, 'OrderedDict');
  assert.equal(Object.keys(seen.tensors), [...sd.keys()]);
  for (const [k, t] of sd)
    assert.equal(seen.tensors[k], [t.dtype === 'int64' ? 'torch.int64' : 'torch.float32', t.shape, [...t.data].map(Number)], k);
  assert.equal(seen.entries.map((e) => e[0]), ['archive/data.pkl', 'archive/data/0', 'archive/data/1', 'archive/data/2', 'archive/data/3', 'archive/data/4', 'archive/version']);
  for (const [name, method, at] of seen.entries) {
    assert.is(method, 0, `${name} stored`);
    assert.is(at % 64, 0, `${name}'s data at ${at}, 64-byte aligned`);
  }
  assert.equal([...readPth(file)].map(([k, v]) => [k, v.dtype, v.shape, [...v.data]]), [...sd].map(([k, v]) => [k, v.dtype, v.shape, [...v.data]]));
});

test("a model trained in repmlp, and its deploy form, load into the reference code's RepMLPNet strictly and give repmlp's logits", () => {
  const cfg = { ...(JSON.parse(fs.readFileSync(configFile, 'utf8')) as ReferenceRepMLPNetConfig), partitionOrder: 'reference' as const };
  const rng = new Rng(4);
  const model = new RepMLPNet(cfg, { rng });
  const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
  for (let step = 0; step < 2; step++)
    scope(() => {
      opt.zeroGrad();
      crossEntropy(model.forward(randn([4, 1, 32, 32], rng)), tensor(BigInt64Array.from([1n, 2n, 3n, 4n]))).backward();
      opt.step();
    });
  model.eval();
  const x = randn([2, 1, 64, 64], rng); // 2 x 2 partitions per map in both stages
  const ours: Record<'train' | 'deploy', Float32Array> = { train: scope(() => model.forward(x).toFloat32Array()), deploy: new Float32Array() };
  const files = { train: path.join(tmp, 'train.pth'), deploy: path.join(tmp, 'deploy.pth') };
  writePth(files.train, model.stateDict());
  model.localityInjection();
  ours.deploy = scope(() => model.forward(x).toFloat32Array());
  writePth(files.deploy, model.stateDict());
  const inputs = path.join(tmp, 'x.safetensors');
  writeSafetensors(inputs, new Map([['x', { dtype: 'float32', shape: [...x.shape], data: x.toFloat32Array() }]]));
  const out = scratchDir('pth-torch-out');
  torch('model', configFile, inputs, out, files.train, files.deploy);
  const theirs = readSafetensors(path.join(out, 'logits.safetensors'));
  for (const form of ['train', 'deploy'] as const) {
    assertClose(`repmlp -> .pth -> torch: ${form}-form logits (reference order) vs repmlp's`, ours[form], theirs.get(`${form}.logits`)!, { rtol: 2e-5, atol: 1e-7 });
    // torch -> .pth -> repmlp: the same tensors, bit for bit
    const back = readPth(path.join(out, `${form}.pth`)), written = readPth(files[form]);
    assert.equal([...back.keys()].sort(), [...written.keys()].sort(), `${form}: keys`);
    for (const [k, v] of written) assert.equal([...back.get(k)!.data], [...v.data], `${form} ${k}`);
  }
  x.dispose();
  model.dispose();
  fs.rmSync(out, { recursive: true, force: true });
});

test.run();
