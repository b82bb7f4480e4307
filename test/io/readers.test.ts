// The readers on hostile and malformed files, built here: safetensors headers that lie
// about offsets, shapes, dtypes and metadata; PyTorch zips whose entries inflate beyond what
// they declare (real deflate bombs, kept at 64 MiB so the test stays small) or declare
// more than deflate can produce; pickles that refer to themselves or nest without end; IDX
// gzip bombs. Every refusal names the file, and the bombs are refused without the memory
// they would inflate to.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeIdx, readIdxImages, readIdxLabels, IDX_MAX_DATA_BYTES } from '../../lib/data/idx';
import { readCifarBatch } from '../../lib/data/cifar';
import { loadFashionMnist } from '../../lib/data/fashion-mnist';
import { PyObject } from '../../lib/io/pickle-values';
import { readPth, readPthCheckpoint } from '../../lib/io/pth';
import { fieldAt } from '../../lib/io/pyvalue';
import { parseSafetensors, readSafetensors, writeSafetensors } from '../../lib/io/safetensors';
import { readCheckpoint } from '../../lib/train/checkpoint';
import { assertThrows } from '../helpers';
import { rssMiB } from './helpers';
import {
  type ZipPart, record, zip, PROTO2, MARK, STOP, EMPTY_DICT, EMPTY_LIST, SETITEMS, SETITEM, APPEND, NONE, BINPERSID, REDUCE, DUP, TUPLE2, BINPUT0, BINGET0, str, int, global, tuple, tensorOps, stateDict, NEWOBJ, BUILD, BINGET1, BINPUT1, dict, checkpoint, call, newObject,
} from './pickles';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'repmlp-readers-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const MiB = 2 ** 20;
const BOMB = 64 * MiB;

/** `bytes` zero bytes after `prefix`, compressed by `make` without ever holding them whole. */
async function compressedZeros(make: () => zlib.Gzip | zlib.DeflateRaw, bytes: number, prefix = Buffer.alloc(0)): Promise<Buffer> {
  const z = make();
  const out: Buffer[] = [];
  z.on('data', (c: Buffer) => out.push(c));
  const done = new Promise((resolve) => z.on('end', resolve));
  z.write(prefix);
  const chunk = Buffer.alloc(MiB);
  for (let left = bytes; left > 0; left -= MiB) z.write(left >= MiB ? chunk : chunk.subarray(0, left));
  z.end();
  await done;
  return Buffer.concat(out);
}

/** Asserts that fn throws matching re and that the resident memory grew by less than limitMiB. */
function refusedWithin(limitMiB: number, what: string, fn: () => unknown, re: RegExp): void {
  const before = rssMiB();
  assertThrows(fn, re);
  const grew = rssMiB() - before;
  console.log(`  ${what}: refused, resident memory ${grew >= 0 ? '+' : ''}${grew.toFixed(1)} MiB (it would inflate to ${BOMB / MiB} MiB)`);
  assert.ok(grew < limitMiB, `${what}: memory grew by ${grew.toFixed(1)} MiB`);
}

// ---------------------------------------------------------------------------------------
// safetensors

/** A safetensors file from a header (object or raw text) and `dataLength` data bytes. */
function st(header: unknown, dataLength: number): Buffer {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const n = Buffer.alloc(8);
  n.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([n, json, Buffer.alloc(dataLength)]);
}

const F32 = (shape: number[], offsets: unknown) => ({ dtype: 'F32', shape, data_offsets: offsets });

test('safetensors: offsets must tile the data area exactly; shapes, dtypes and metadata are checked', () => {
  const file = 'bad.safetensors';
  const cases: [unknown, number, RegExp][] = [
    [{ w: F32([2], [-8, 0]) }, 8, /tensor 'w' but received \[-8,0\]/],
    [{ w: F32([2], [8, 0]) }, 8, /expected data_offsets \[begin, end\] of integers with 0 <= begin <= end for tensor 'w' but received \[8,0\]/],
    [{ w: F32([2], [0.5, 8.5]) }, 9, /data_offsets .* for tensor 'w' but received \[0.5,8.5\]/],
    [{ w: F32([2], [0, 8]), v: F32([2], [4, 12]) }, 12, /tensor '(v|w)' \(bytes 4\.\.12\) overlaps tensor 'w' \(bytes 0\.\.8\)/],
    [{ w: F32([2], [0, 8]), v: F32([2], [0, 8]) }, 8, /overlaps tensor/],
    [{ w: F32([2], [0, 8]), v: F32([1], [12, 16]) }, 16, /bytes 8\.\.12 of the data area belong to no tensor \(between 'w' and 'v'\)/],
    [{ w: F32([2], [4, 12]) }, 12, /bytes 0\.\.4 of the data area belong to no tensor \(before 'w'\)/],
    [{ w: F32([2], [0, 8]) }, 20, /12 bytes follow the last tensor's data \(the data area is 20 bytes, the tensors cover 8\)/],
    [{ w: F32([4], [0, 16]) }, 12, /tensor 'w' spans bytes 0\.\.16, past the end of the 12-byte data area/],
    [{ w: F32([3], [0, 8]) }, 8, /tensor 'w' spans bytes 0\.\.8, which does not fit shape \[3\] of F32 \(12 bytes\)/],
    [{ w: F32([-1, -2], [0, 8]) }, 8, /expected an array of non-negative integers for the shape of tensor 'w' but received \[-1,-2\]/],
    [{ w: { dtype: 'F32', shape: 3, data_offsets: [0, 12] } }, 12, /for the shape of tensor 'w' but received 3/],
    [{ w: { dtype: 'F32', shape: [3] } }, 12, /data_offsets .* for tensor 'w' but received none/],
    [{ w: { dtype: 'Q7', shape: [1], data_offsets: [0, 4] } }, 4, /tensor 'w' has an unknown dtype 'Q7'/],
    [{ w: { dtype: 'F64', shape: [1], data_offsets: [0, 8] } }, 8, /tensor 'w' has dtype F64; supported: F32, F16, BF16, I64/],
    [{ w: 7 }, 0, /expected an object \{dtype, shape, data_offsets\} for tensor 'w' but received 7/],
    [{ __metadata__: { format: 1 } }, 0, /expected a string for __metadata__ entry 'format' but received number 1/],
    [{ __metadata__: ['a'] }, 0, /expected an object of strings for __metadata__ but received \['a'\]/],
    ['null', 0, /expected a JSON object for its header but received null/],
    ['[1, 2]', 0, /expected a JSON object for its header but received \[1, 2\]/],
    ['{"w": ', 0, /its header is not JSON/],
  ];
  for (const [header, n, re] of cases) {
    assertThrows(() => parseSafetensors(st(header, n), file), new RegExp(`^safetensors: bad\\.safetensors is not a valid safetensors file: .*${re.source}`));
  }
  // invalid UTF-8, and a header length over the format's 100 MB (refused before reading it)
  const latin = st('{"w\u00ff": 1}', 0);
  latin.write('\xff', 11, 'latin1');
  assertThrows(() => parseSafetensors(latin, file), /bad\.safetensors is not a valid safetensors file: its header is not valid UTF-8/);
  const huge = Buffer.alloc(16);
  huge.writeBigUInt64LE(100_000_001n);
  assertThrows(() => parseSafetensors(huge, file), /its header claims 100000001 bytes, more than the 100000000 a safetensors header may have/);
  huge.writeBigUInt64LE(2n ** 64n - 1n);
  assertThrows(() => parseSafetensors(huge, file), /its header claims 18446744073709551615 bytes, more than/);
  // what the reference writes is read: zero-size tensors, any order of keys, an empty file
  const ok = parseSafetensors(st({ b: F32([2], [4, 12]), e: F32([0], [4, 4]), a: F32([1], [0, 4]), __metadata__: { k: 'v' } }, 12));
  assert.equal([...ok.keys()], ['b', 'e', 'a']);
  assert.equal(parseSafetensors(st({}, 0)).size, 0);
  // a directory is not read as a file
  assertThrows(() => readSafetensors(tmp), new RegExp(`^safetensors: ${tmp.replace(/[.]/g, '\\.')}: expected a regular file but received a directory$`));
});

test('checkpoint: metadata that is not JSON names the file and the key', () => {
  const file = path.join(tmp, 'ck.safetensors');
  const md: Record<string, string> = { format: 'repmlp-train', 'optimizer.paramGroups': '[]' };
  for (const k of ['epoch', 'batch', 'step', 'loader', 'bestAccuracy', 'lastAccuracy', 'epochLoss', 'epochCorrect', 'epochSeen', 'config', 'options']) md[k] = '0';
  md.loader = '{"seed": 0,';
  writeSafetensors(file, new Map(), { metadata: md });
  assertThrows(() => readCheckpoint(file), /^checkpoint: expected JSON for metadata 'loader' in .*ck\.safetensors but received "\{\\"seed\\": 0," \(/);
});

// ---------------------------------------------------------------------------------------
// PyTorch zips and pickles

function pth(name: string, parts: ZipPart[]): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, zip(parts));
  return file;
}

const FOUR = Buffer.from(Float32Array.of(1, 2, 3, 4).buffer);
const goodPickle = stateDict([['w', tensorOps('0', 4, [2, 2])]]);

test('pth: the archives built here read (stored and deflated)', () => {
  for (const deflate of [false, true]) {
    const sd = readPth(pth('good.pth', [{ name: 'archive/data.pkl', data: goodPickle, deflate }, { name: 'archive/data/0', data: FOUR, deflate }]));
    assert.equal(sd.get('w')!.shape, [2, 2]);
    assert.equal([...sd.get('w')!.data], [1, 2, 3, 4]);
  }
});

test('pth: deflate bombs are refused before they take memory', async () => {
  const bomb = await compressedZeros(() => zlib.createDeflateRaw({ level: 9 }), BOMB);
  console.log(`  a ${bomb.length}-byte deflate stream of ${BOMB / MiB} MiB`);
  // an honest header over the pickle limit
  const honest = pth('bomb.pth', [{ name: 'archive/data.pkl', raw: bomb, declared: BOMB }]);
  refusedWithin(24, 'pickle over the limit', () => readPth(honest, { maxPickleBytes: 16 * MiB }),
    /^pth: .*bomb\.pth is not a PyTorch zip checkpoint: its pickle 'archive\/data\.pkl' declares 67108864 bytes \(64\.0 MiB\), more than the 16777216 bytes \(16\.0 MiB\) limit of a state dict's pickle$/);
  // a header that lies: inflation stops at the declared size
  const lying = pth('lying.pth', [{ name: 'archive/data.pkl', raw: bomb, declared: 1000 }]);
  refusedWithin(24, 'pickle inflating past its size', () => readPth(lying),
    /^pth: .*lying\.pth is not a PyTorch zip checkpoint: entry 'archive\/data\.pkl' inflates to more than the 1000 bytes it declares \(refused at that size\)$/);
  const storage = pth('storage.pth', [{ name: 'archive/data.pkl', data: goodPickle }, { name: 'archive/data/0', raw: bomb, declared: 16 }]);
  refusedWithin(24, 'storage inflating past its size', () => readPth(storage), /storage\.pth is not a PyTorch zip checkpoint: entry 'archive\/data\/0' inflates to more than the 16 bytes it declares/);
});

test('pth: a declared size that deflate cannot reach from the compressed bytes is refused', () => {
  const small = zlib.deflateRawSync(goodPickle);
  const file = pth('ratio.pth', [{ name: 'archive/data.pkl', raw: small, declared: BOMB }, { name: 'archive/data/0', data: FOUR }]);
  assertThrows(() => readPth(file), new RegExp(`ratio\\.pth is not a PyTorch zip checkpoint: entry 'archive/data\\.pkl' declares 67108864 bytes \\(64\\.0 MiB\\) from ${small.length} compressed bytes, more than deflate can produce \\(1032:1\\)`));
  const stored = pth('stored.pth', [{ name: 'archive/data.pkl', data: goodPickle, declared: goodPickle.length + 1 }]);
  assertThrows(() => readPth(stored), /stored\.pth is not a PyTorch zip checkpoint: stored entry 'archive\/data\.pkl' declares \d+ bytes but occupies \d+/);
});

/** A checkpoint whose data.pkl is `pickle` (and one float storage '0' of 4 elements). */
const withPickle = (name: string, pickle: Buffer) => pth(name, [{ name: 'archive/data.pkl', data: pickle }, { name: 'archive/data/0', data: FOUR }]);

test('pth: a pickle that refers to itself or nests too deep gets a clear error, not a stack overflow', () => {
  // d = {}; d['model'] = d (through the memo): the wrapper search would follow it for ever
  const selfRef = withPickle('self.pth', Buffer.concat([PROTO2, EMPTY_DICT, BINPUT0, str('model'), BINGET0, SETITEM, STOP]));
  assertThrows(() => readPth(selfRef), /^pth: .*self\.pth \(archive\/data\.pkl\): the pickle refers to itself \(a list or dict that contains itself\), which no state dict does$/);
  // l = []; l.append(l)
  const selfList = withPickle('selflist.pth', Buffer.concat([PROTO2, EMPTY_LIST, BINPUT0, BINGET0, APPEND, STOP]));
  assertThrows(() => readPth(selfList), /selflist\.pth \(archive\/data\.pkl\): the pickle refers to itself/);
  // {[[[...100000 levels...]]]: None}
  const N = 100_000;
  const deep = withPickle('deep.pth', Buffer.concat([PROTO2, EMPTY_DICT, Buffer.alloc(N, 0x5d), Buffer.alloc(N - 1, 0x61), NONE, SETITEM, STOP]));
  assertThrows(() => readPth(deep), /^pth: .*deep\.pth \(archive\/data\.pkl\): the pickle nests deeper than 100 levels$/);
  // a tuple shared 60 times over ((x, x), (x, x)) ...: 2^60 paths, each container checked once
  const shared = Buffer.concat([PROTO2, EMPTY_DICT, EMPTY_LIST, ...Array.from({ length: 60 }, () => Buffer.concat([DUP, TUPLE2])), NONE, SETITEM, STOP]);
  const t0 = Date.now();
  assertThrows(() => readPth(withPickle('shared.pth', shared)), /shared\.pth holds no state dict of tensors: its top-level keys are \[\[\[\.\.\.\], \[\.\.\.\]\], \[\[\.\.\.\], \[\.\.\.\]\]\]/);
  assert.ok(Date.now() - t0 < 10_000, `shared pickle checked in ${Date.now() - t0} ms`);
});

test('pth: malformed state dicts and tensors name the file and what was expected', () => {
  assertThrows(() => readPth(withPickle('list.pth', Buffer.concat([PROTO2, EMPTY_LIST, STOP]))), /^pth: .*list\.pth holds \[\] rather than a dict of tensors$/);
  assertThrows(() => readPth(withPickle('none.pth', Buffer.concat([PROTO2, NONE, STOP]))), /^pth: .*none\.pth holds None rather than a dict of tensors$/);
  assertThrows(() => readPth(withPickle('neg.pth', stateDict([['w', tensorOps('0', 4, [-2, -2])]]))),
    /neg\.pth \(archive\/data\.pkl\): expected \(storage, offset, shape, stride\) of non-negative integers for _rebuild_tensor_v2 but received \[StorageRef, 0, \[-2, -2\], \[-2, 1\], \.\.\.\]/);
  assertThrows(() => readPth(withPickle('short.pth', stateDict([['w', tensorOps('0', 4, [8])]]))),
    /short\.pth is not a PyTorch zip checkpoint: tensor 'w' \(offset 0, 8 elements\) does not fit its storage of 4 elements/);
  assertThrows(() => readPth(withPickle('numel.pth', stateDict([['w', tensorOps('0', 5, [4])]]))),
    /numel\.pth is not a PyTorch zip checkpoint: storage '0' holds 16 bytes, not the 5 float32 elements the pickle says/);
  const intKey = Buffer.concat([PROTO2, EMPTY_DICT, int(3), tensorOps('0', 4, [4]), SETITEM, STOP]);
  assertThrows(() => readPth(withPickle('key.pth', intKey)), /key\.pth is not a PyTorch zip checkpoint: expected string keys in the state dict but received 3/);
});

test('pth: legacy files cut short, or with pickles over the limit, name the file and what is missing', () => {
  const whole = fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'ref_legacy.pth'));
  const cut = (name: string, length: number) => {
    const file = path.join(tmp, name);
    fs.writeFileSync(file, whole.subarray(0, length));
    return file;
  };
  assertThrows(() => readPth(cut('legacy-pickle.pth', 2000)), /^pth: .*legacy-pickle\.pth: the pickle ends before STOP$/);
  assertThrows(() => readPth(cut('legacy-data.pth', whole.length - 100)), /^pth: .*legacy-data\.pth is not a valid legacy PyTorch checkpoint: storage '\d+' \(\d+ bytes at \d+\) runs past the end of the file$/);
  assertThrows(() => readPth(path.join(__dirname, '..', 'fixtures', 'ref_legacy.pth'), { maxPickleBytes: 4096 }),
    /^pth: .*ref_legacy\.pth: its pickles run past the first 4096 bytes \(4\.0 KiB\), the limit of a state dict's pickle$/);
  // the magic number, then a protocol version torch never wrote
  const version = Buffer.from(whole);
  version.writeUInt16LE(1002, version.indexOf(Buffer.from([0x4d, 0xe9, 0x03])) + 1);
  fs.writeFileSync(path.join(tmp, 'legacy-version.pth'), version);
  assertThrows(() => readPth(path.join(tmp, 'legacy-version.pth')), /legacy-version\.pth is not a valid legacy PyTorch checkpoint: expected protocol version 1001 but received 1002$/);
});

// ---------------------------------------------------------------------------------------
// placeholders: objects of classes the reader does not know are built by no code

test('pth: REDUCE, NEWOBJ and BUILD of unknown globals make inert placeholders; nothing a pickle names runs', () => {
  const marker = path.join(tmp, 'ran');
  const shell = str(`touch ${marker}`);
  const file = withPickle('objects.pth', checkpoint([
    ['system', call('os', 'system', [shell])],
    ['popen', Buffer.concat([global('subprocess', 'Popen'), tuple([tuple([str('sh'), str('-c'), shell])]), NEWOBJ])],
    // BUILD would call __setstate__ (here a state computed by builtins.exec): only recorded
    ['built', newObject('builtins', 'object', call('builtins', 'exec', [str(`open(${JSON.stringify(marker)}, 'w')`)]))],
    ['args', newObject('argparse', 'Namespace', dict([['lr', int(3)], ['arch', str('RepMLPNet-B224')]]))],
  ]));
  const ck = readPthCheckpoint(file);
  assert.equal([...ck.stateDict.get('w')!.data], [1, 2, 3, 4]);
  assert.not.ok(fs.existsSync(marker), 'nothing ran');
  const system = fieldAt(ck.root, 'system') as PyObject;
  assert.ok(system instanceof PyObject);
  assert.is(system.cls, 'os.system');
  assert.equal(system.args, [`touch ${marker}`]);
  assert.is((fieldAt(ck.root, 'popen') as PyObject).cls, 'subprocess.Popen');
  const built = fieldAt(ck.root, 'built') as PyObject;
  assert.ok(built.state instanceof PyObject && built.state.cls === 'builtins.exec');
  assert.is(fieldAt(ck.root, 'args', 'arch'), 'RepMLPNet-B224');
  assert.is(fieldAt(ck.root, 'args', 'lr'), 3);
});

test('pth: placeholders cannot stand in for a state dict, a storage or a callee, nor nest without end', () => {
  // a class of the pickle's choosing holding the tensors
  const evil = withPickle('evil-dict.pth', Buffer.concat([PROTO2, newObject('__main__', 'Weights'), MARK, str('w'), tensorOps('0', 4, [4]), SETITEMS, STOP]));
  assertThrows(() => readPth(evil), /^pth: .*evil-dict\.pth \(archive\/data\.pkl\): the pickle calls __main__\.Weights, which a state dict does not need \(refused\)$/);
  assertThrows(() => readPth(withPickle('obj.pth', Buffer.concat([PROTO2, call('os', 'system', [str('ls')]), STOP]))), /^pth: .*obj\.pth holds os\.system object rather than a dict of tensors$/);
  // a storage whose class is not a storage class
  const storage = Buffer.concat([tuple([str('storage'), global('os', 'system'), str('0'), str('cpu'), int(4)]), BINPERSID]);
  assertThrows(() => readPth(withPickle('storage-class.pth', Buffer.concat([PROTO2, dict([['w', storage]]), STOP]))),
    /storage-class\.pth \(archive\/data\.pkl\): storage type os\.system is not supported \(supported: FloatStorage, /);
  // getattr(__import__('os'), 'system')('ls'): the second call's callee is a placeholder, refused
  const imported = call('builtins', '__import__', [str('os')]);
  const chained = Buffer.concat([call('builtins', 'getattr', [imported, str('system')]), tuple([str('ls')]), REDUCE]);
  assertThrows(() => readPth(withPickle('chain.pth', checkpoint([['x', chained]]))),
    /chain\.pth \(archive\/data\.pkl\): REDUCE of builtins\.getattr object on \["ls"\], which is not a global by name with arguments$/);
  // an object whose state is itself, through the memo
  const selfState = Buffer.concat([newObject('a', 'B'), BINPUT1, BINGET1, BUILD]);
  assertThrows(() => readPth(withPickle('self-state.pth', checkpoint([['x', selfState]]))), /self-state\.pth \(archive\/data\.pkl\): the pickle refers to itself/);
  // 150 objects, each the state of the one before
  const N = 150;
  const chain = Buffer.concat([...Array.from({ length: N }, () => newObject('a', 'B')), ...Array.from({ length: N - 1 }, () => BUILD)]);
  assertThrows(() => readPth(withPickle('deep-objects.pth', checkpoint([['x', chain]]))), /deep-objects\.pth \(archive\/data\.pkl\): the pickle nests deeper than 100 levels$/);
});

// ---------------------------------------------------------------------------------------
// IDX and CIFAR

test('IDX: a gzip bomb is refused by its declared size, a lying header at that size', async () => {
  const header = Buffer.from(encodeIdx([1, 8192, 8192], new Uint8Array(8192 * 8192)).subarray(0, 16));
  const bomb = path.join(tmp, 'train-images-idx3-ubyte.gz');
  fs.writeFileSync(bomb, await compressedZeros(() => zlib.createGzip({ level: 9 }), BOMB, header));
  assert.ok(fs.statSync(bomb).size < MiB);
  assert.is(IDX_MAX_DATA_BYTES, 2 ** 30);
  refusedWithin(24, 'IDX over the limit', () => readIdxImages(bomb, { maxBytes: 16 * MiB }),
    /^.*train-images-idx3-ubyte\.gz: the IDX header declares 1 images of 8192x8192 \(67108864 bytes \(64\.0 MiB\)\), more than the 16777216 bytes \(16\.0 MiB\) limit of one IDX file$/);
  // 10 labels declared, 64 MiB inflated
  const dir = fs.mkdtempSync(path.join(tmp, 'fm-'));
  const lying = path.join(dir, 'train-labels-idx1-ubyte.gz');
  fs.writeFileSync(lying, await compressedZeros(() => zlib.createGzip({ level: 9 }), BOMB, Buffer.from(encodeIdx([10], new Uint8Array(10)).subarray(0, 8))));
  refusedWithin(24, 'IDX inflating past its header', () => readIdxLabels(lying),
    /^.*train-labels-idx1-ubyte\.gz: the gzip stream inflates to more than the 18 bytes its IDX header declares \(refused at that size\)$/);
  // through the data set loader, the file is named the same way
  for (const base of ['train-images-idx3-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']) fs.writeFileSync(path.join(dir, base), encodeIdx(base.includes('images') ? [10, 2, 2] : [10], new Uint8Array(base.includes('images') ? 40 : 10)));
  assertThrows(() => loadFashionMnist({ dir }), /train-labels-idx1-ubyte\.gz: the gzip stream inflates to more than the 18 bytes/);
});

test('IDX: a gzip header longer than the first probe (a 3 kB file name) still reads', () => {
  const idx = Buffer.from(encodeIdx([3], Uint8Array.of(7, 8, 9)));
  const head = Buffer.from([0x1f, 0x8b, 8, 0x08, 0, 0, 0, 0, 0, 3]); // FNAME set
  const tail = record(8, [[0, 4, zlib.crc32(idx)], [4, 4, idx.length]]);
  const file = path.join(tmp, 'named-labels.gz');
  fs.writeFileSync(file, Buffer.concat([head, Buffer.alloc(3000, 0x61), Buffer.from([0]), zlib.deflateRawSync(idx), tail]));
  assert.equal([...readIdxLabels(file)], [7, 8, 9]);
});

test('IDX and CIFAR: not a regular file', () => {
  const dir = path.join(tmp, 'data_batch_1.bin');
  fs.mkdirSync(dir);
  assertThrows(() => readCifarBatch(dir), /data_batch_1\.bin: expected a regular file but received a directory$/);
  assertThrows(() => readIdxLabels(dir), /data_batch_1\.bin: expected a regular file but received a directory$/);
});

test.run();
