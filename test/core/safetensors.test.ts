import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseSafetensors, readSafetensors, serializeSafetensors, writeSafetensors, type HostTensor } from '../../lib/io/safetensors';
import { assertThrows } from '../helpers';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'repmlp-st-'));

test('safetensors: round trip F32 and I64 with metadata', () => {
  const m = new Map<string, HostTensor>([
    ['b.weight', { dtype: 'float32', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6.5]) }],
    ['a.num_batches_tracked', { dtype: 'int64', shape: [], data: BigInt64Array.from([7n]) }],
  ]);
  const file = path.join(dir, 'x.safetensors');
  writeSafetensors(file, m, { metadata: { format: 'pt' } });
  const back = readSafetensors(file);
  assert.equal([...back.keys()].sort(), ['a.num_batches_tracked', 'b.weight']);
  assert.equal(back.get('b.weight')!.shape, [2, 3]);
  assert.equal(Array.from(back.get('b.weight')!.data as Float32Array), [1, 2, 3, 4, 5, 6.5]);
  assert.equal(back.get('a.num_batches_tracked')!.shape, []);
  assert.equal(Array.from(back.get('a.num_batches_tracked')!.data as BigInt64Array), [7n]);
  assert.equal(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temporary file left');
});

test('safetensors: F16 and BF16 are widened to float32', () => {
  const header = JSON.stringify({
    h: { dtype: 'F16', shape: [3], data_offsets: [0, 6] },
    b: { dtype: 'BF16', shape: [2], data_offsets: [6, 10] },
  });
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(header.length));
  // F16: 1.0 = 0x3c00, -2.0 = 0xc000, 0.5 = 0x3800; BF16: 1.0 = 0x3f80, -3.0 = 0xc040
  const data = Buffer.from(new Uint16Array([0x3c00, 0xc000, 0x3800, 0x3f80, 0xc040]).buffer);
  const m = parseSafetensors(Buffer.concat([head, Buffer.from(header), data]));
  assert.equal(Array.from(m.get('h')!.data as Float32Array), [1, -2, 0.5]);
  assert.equal(Array.from(m.get('b')!.data as Float32Array), [1, -3]);
});

test('safetensors: float32 written as F16 and BF16 round to nearest even', () => {
  const values = Float32Array.from([1, -2, 0.5, 3.14159, 65504, 1e-7, -0, 70000, 1 + 2 ** -11, 1 + 3 * 2 ** -11]);
  const m = new Map<string, HostTensor>([
    ['w', { dtype: 'float32', shape: [values.length], data: values }],
    ['n', { dtype: 'int64', shape: [1], data: BigInt64Array.from([5n]) }],
  ]);
  const h = parseSafetensors(Buffer.from(serializeSafetensors(m, { floatType: 'F16' })));
  // 1e-7 is a subnormal half (2^-24 steps); 70000 overflows; ties go to even.
  assert.equal(Array.from(h.get('w')!.data as Float32Array), [1, -2, 0.5, 3.140625, 65504, 1.1920928955078125e-7, -0, Infinity, 1, 1 + 4 * 2 ** -11]);
  assert.equal(Array.from(h.get('n')!.data as BigInt64Array), [5n], 'int64 stays I64');
  const b = parseSafetensors(Buffer.from(serializeSafetensors(m, { floatType: 'BF16' })));
  assert.equal(Array.from(b.get('w')!.data as Float32Array).slice(0, 4), [1, -2, 0.5, 3.140625]);
  const back = b.get('w')!.data as Float32Array;
  for (let i = 0; i < values.length; i++) assert.ok(Math.abs(back[i] - values[i]) <= Math.abs(values[i]) * 2 ** -8, `bf16 ${values[i]} -> ${back[i]}`);
});

test('safetensors: corrupt files name the file and the fault', () => {
  const good = Buffer.from(serializeSafetensors(new Map([['w', { dtype: 'float32', shape: [4], data: new Float32Array(4) }]])));
  const file = path.join(dir, 'bad.safetensors');
  fs.writeFileSync(file, good.subarray(0, good.length - 4));
  assertThrows(() => readSafetensors(file), /bad\.safetensors is not a valid safetensors file: tensor 'w' spans bytes 0\.\.16/);
  fs.writeFileSync(file, Buffer.from([1, 2, 3]));
  assertThrows(() => readSafetensors(file), /shorter than the 8-byte header length/);
  assertThrows(() => readSafetensors(path.join(dir, 'missing.safetensors')), /could not read .*missing\.safetensors/);
});

test('safetensors: a failed write leaves the previous file intact', () => {
  const file = path.join(dir, 'keep.safetensors');
  writeSafetensors(file, new Map([['w', { dtype: 'float32', shape: [1], data: Float32Array.from([3]) }]]));
  const bad = new Map([['w', { dtype: 'float32', shape: [1], data: null as unknown as Float32Array }]]);
  assert.throws(() => writeSafetensors(file, bad as Map<string, HostTensor>));
  assert.equal(Array.from(readSafetensors(file).get('w')!.data as Float32Array), [3]);
});

test.after(() => fs.rmSync(dir, { recursive: true, force: true }));
test.run();
