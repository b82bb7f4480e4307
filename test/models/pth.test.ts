import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readPth, readStateDict } from '../../lib/io/pth';
import { readSafetensors, writeSafetensors, type HostTensor } from '../../lib/io/safetensors';
import { assertThrows } from '../helpers';

const dir = path.join(__dirname, '..', 'fixtures');
const fx = (name: string) => path.join(dir, name);
const expected = readSafetensors(fx('pth.safetensors'));

// The entries '<prefix>.<key>' keyed '<key>'.
function section(prefix: string): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const [k, v] of expected) if (k.startsWith(`${prefix}.`)) out.set(k.slice(prefix.length + 1), v);
  return out;
}

// Same keys (in the file's order where given), shapes, dtypes and bit-exact values.
function same(name: string, actual: Map<string, HostTensor>, exp: Map<string, HostTensor>, order?: string[]): void {
  if (order) assert.equal([...actual.keys()], order, `${name}: keys in order`);
  assert.equal([...actual.keys()].sort(), [...exp.keys()].sort(), `${name}: keys`);
  for (const [k, e] of exp) {
    const a = actual.get(k)!;
    assert.equal(a.shape, e.shape, `${name} ${k}: shape`);
    assert.is(a.dtype, e.dtype, `${name} ${k}: dtype`);
    assert.equal([...a.data], [...e.data], `${name} ${k}: values`);
  }
}

const SMALL_ORDER = ['conv.weight', 'bn.weight', 'bn.bias', 'bn.running_mean', 'bn.running_var', 'bn.num_batches_tracked', 'head.weight', 'head.bias'];

test('readPth: a state dict saved by torch.save', () => {
  const sd = readPth(fx('pth_small.pth'));
  same('pth_small', sd, section('small'), SMALL_ORDER);
  assert.equal(sd.get('bn.num_batches_tracked')!.shape, []);
  assert.equal([...sd.get('bn.num_batches_tracked')!.data], [7n]);
});

test("readPth: {'model': ...} wrappers and DataParallel 'module.' prefixes", () => {
  same('pth_wrapped', readPth(fx('pth_wrapped.pth')), section('small'), SMALL_ORDER);
  const dp = readPth(fx('pth_repmlpnet.pth'));
  assert.ok(dp.has('head.weight') && dp.has('stages.0.0.repmlp_block.fc3.weight'));
  assert.ok(![...dp.keys()].some((k) => k.startsWith('module.')));
});

test('readPth: float16, bfloat16, int64, a view at a storage offset, a scalar', () => {
  const sd = readPth(fx('pth_dtypes.pth'));
  same('pth_dtypes', sd, section('dtypes'));
  // the view shares the storage of 'full' and starts at its row 2
  const full = sd.get('full')!.data as Float32Array, rows = sd.get('rows')!.data as Float32Array;
  assert.equal([...rows], [...full.subarray(10, 25)]);
  assert.equal([...sd.get('steps')!.data], [3n, -2n, 2n ** 40n]);
  assert.equal(sd.get('scalar')!.shape, []);
});

test('readPth: views read as the views they are (a transpose, a slice at an offset, stride 0, a permutation)', () => {
  const sd = readPth(fx('pth_strided.pth'));
  same('pth_strided', sd, section('strided'), ['t', 'cols', 'expanded', 'permuted']);
  // the slice and the transpose share one storage: the transpose of the slice's base
  const t = sd.get('t')!.data as Float32Array, cols = sd.get('cols')!.data as Float32Array;
  for (let r = 0; r < 3; r++) for (let c = 0; c < 2; c++) assert.is(cols[r * 2 + c], t[(c + 1) * 3 + r]);
});

test('readPth: errors name the file and the problem', () => {
  assertThrows(() => readPth(fx('missing.pth')), /pth: could not read .*missing\.pth: ENOENT/);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'repmlp-pth-'));
  try {
    const notZip = path.join(tmp, 'x.pth');
    fs.writeFileSync(notZip, Buffer.alloc(100, 7));
    assertThrows(() => readPth(notZip), /pth: .*x\.pth is not a PyTorch zip checkpoint: no end-of-central-directory record/);
    fs.writeFileSync(notZip, Buffer.from([0x80, 2, 0x8a, 10]));
    assertThrows(() => readPth(notZip), /x\.pth is not a PyTorch zip checkpoint: it is 4 bytes long/);
    // a truncated archive: the storages' bytes are gone
    const whole = fs.readFileSync(fx('pth_small.pth'));
    const cut = path.join(tmp, 'cut.pth');
    fs.writeFileSync(cut, whole.subarray(0, 1500));
    assertThrows(() => readPth(cut), /cut\.pth is not a PyTorch zip checkpoint/);
    // a pickle calling something other than the tensor rebuilders is refused, not run
    const evil = Buffer.from(whole);
    const at = evil.indexOf('collections\nOrderedDict');
    assert.ok(at > 0);
    evil.write('collections\ndefaultdict', at, 'latin1'); // same length
    const evilFile = path.join(tmp, 'evil.pth');
    fs.writeFileSync(evilFile, evil);
    assertThrows(
      () => readPth(evilFile),
      /^pth: .*evil\.pth \(pth_small\/data\.pkl\): the pickle calls collections\.defaultdict, which a state dict does not need \(refused\)$/,
    );
    // readStateDict picks the format by content
    const st = path.join(tmp, 'w.safetensors');
    writeSafetensors(st, section('small'));
    same('readStateDict safetensors', readStateDict(st), section('small'));
    same('readStateDict pth', readStateDict(fx('pth_small.pth')), section('small'));
    assertThrows(() => readStateDict(path.join(tmp, 'none')), /could not read .*none/);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test.run();
