// The atomic writer on a (simulated) full disk: short writes are continued, a write that
// fails or makes no progress leaves the previous file byte for byte and no temporary file,
// and the error names the file and the cause. Every writer of the package goes through it.
// Stale temporary files of dead processes are removed, those of live ones kept.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { appendFileChecked, removeStaleTemps, writeFileAtomic } from '../../lib/io/atomic';
import { writeIdx } from '../../lib/data/idx';
import { preset, RepMLPNet, writeOnnx, writeSafetensors, type HostTensor } from '../../lib/index';
import { writeCheckpoint, type CheckpointMeta } from '../../lib/train/checkpoint';
import { assertThrows } from '../helpers';
import { deadPid, temps, withFullDisk } from './helpers';

const realFs = require('node:fs') as typeof fs;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'repmlp-atomic-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const OLD = Buffer.from('the previous content, which must survive\n');
const NEW = Buffer.alloc(10_000, 7);

function previous(name: string): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, OLD);
  return file;
}

function assertKept(file: string): void {
  assert.ok(fs.readFileSync(file).equals(OLD), `${path.basename(file)} is byte-identical to before`);
  assert.equal(temps(path.dirname(file)), [], 'no temporary file left');
}

test('writes strings and bytes', () => {
  const file = path.join(tmp, 'sub', 'a.txt');
  writeFileAtomic(file, 'héllo\n');
  assert.is(fs.readFileSync(file, 'utf8'), 'héllo\n');
  writeFileAtomic(file, NEW);
  assert.ok(fs.readFileSync(file).equals(NEW));
  assert.equal(temps(path.dirname(file)), []);
  // a replaced file keeps its permissions
  fs.chmodSync(file, 0o600);
  writeFileAtomic(file, 'private\n');
  assert.is(fs.statSync(file).mode & 0o777, 0o600);
});

test('short writes that make progress are continued to the end', () => {
  const file = path.join(tmp, 'short.bin');
  const writeSync = realFs.writeSync;
  let calls = 0;
  realFs.writeSync = ((fd: number, b: Uint8Array, off: number, len: number) => (calls++, writeSync(fd, b, off, Math.min(len, 999)))) as typeof fs.writeSync;
  try {
    writeFileAtomic(file, NEW);
  } finally {
    realFs.writeSync = writeSync;
  }
  assert.ok(fs.readFileSync(file).equals(NEW));
  assert.is(calls, Math.ceil(NEW.length / 999));
});

test('ENOSPC after N bytes: the error names the file and the full disk; the previous file is kept', () => {
  for (const after of [0, 1, 4096, NEW.length - 1]) {
    const file = previous('full.bin');
    assertThrows(() => withFullDisk(after, () => writeFileAtomic(file, NEW)),
      new RegExp(`^write: could not write ${file.replace(/[.]/g, '\\.')}: the disk is full \\(ENOSPC: no space left on device, write\\); ${file.replace(/[.]/g, '\\.')} keeps its previous content$`));
    assertKept(file);
  }
  const quota = previous('quota.bin');
  assertThrows(() => withFullDisk(100, () => writeFileAtomic(quota, NEW), { code: 'EDQUOT' }), /quota\.bin: the disk quota is exceeded \(EDQUOT/);
  assertKept(quota);
});

test('a write that accepts no bytes is an error, not an endless loop or a truncated file', () => {
  const file = previous('zero.bin');
  const writeSync = realFs.writeSync;
  let calls = 0;
  realFs.writeSync = ((fd: number, b: Uint8Array, off: number, len: number) => (++calls === 1 ? writeSync(fd, b, off, Math.min(len, 100)) : 0)) as typeof fs.writeSync;
  try {
    assertThrows(() => writeFileAtomic(file, NEW), /^write: could not write .*zero\.bin: a write accepted 0 of the 9900 bytes left \(100 of 10000 written\); the disk is probably full;/);
  } finally {
    realFs.writeSync = writeSync;
  }
  assertKept(file);
});

test('fsync and close errors (deferred write errors) also keep the previous file', () => {
  for (const name of ['fsyncSync', 'closeSync'] as const) {
    const file = previous(`${name}.bin`);
    const orig = realFs[name];
    let failed = false;
    (realFs as Record<string, unknown>)[name] = (fd: number) => {
      if (!failed) {
        failed = true;
        orig(fd);
        throw Object.assign(new Error(`ENOSPC: no space left on device, ${name === 'fsyncSync' ? 'fsync' : 'close'}`), { code: 'ENOSPC' });
      }
      return orig(fd);
    };
    try {
      assertThrows(() => writeFileAtomic(file, NEW), /the disk is full \(ENOSPC/);
    } finally {
      (realFs as Record<string, unknown>)[name] = orig;
    }
    assertKept(file);
  }
});

test('a new file that cannot be written is not created', () => {
  const file = path.join(tmp, 'never.bin');
  assertThrows(() => withFullDisk(10, () => writeFileAtomic(file, NEW, 'export')), /^export: could not write .*never\.bin: the disk is full .*; no never\.bin was created$/);
  assert.not.ok(fs.existsSync(file));
  assert.equal(temps(tmp), []);
});

test('appendFileChecked: a failed append cuts the file back, so no half line is left', () => {
  const file = previous('metrics.jsonl');
  appendFileChecked(file, '{"step":1}\n');
  const before = fs.readFileSync(file);
  assertThrows(() => withFullDisk(5, () => appendFileChecked(file, '{"step":2,"loss":1.5}\n', 'train'), { match: /metrics\.jsonl$/ }),
    /^train: could not append to .*metrics\.jsonl: the disk is full \(ENOSPC.*\); .* keeps its previous \d+ bytes$/);
  assert.ok(fs.readFileSync(file).equals(before));
});

test('every writer of the package goes through the atomic writer', () => {
  const t: HostTensor = { dtype: 'float32', shape: [256], data: new Float32Array(256) };
  const meta: CheckpointMeta = {
    epoch: 0, batch: 1, step: 1, loader: { seed: 0, epoch: 0, batch: 1, rng: [1, 2, 3, 4] }, bestAccuracy: -1, lastAccuracy: -1,
    epochLoss: 0, epochCorrect: 0, epochSeen: 0, config: {}, options: {},
  };
  const model = new RepMLPNet(preset('small', { inChannels: 1, numClasses: 10 }));
  try {
    const writers: [string, string, (f: string) => void][] = [
      ['writeSafetensors', 'w.safetensors', (f) => writeSafetensors(f, new Map([['w', t]]))],
      ['writeCheckpoint', 'last.safetensors', (f) => writeCheckpoint(f, { model: new Map([['w', t]]), optimizer: { state: {}, paramGroups: [] }, meta })],
      ['writeIdx', 'labels-idx1-ubyte', (f) => writeIdx(f, [2000], new Uint8Array(2000))],
      ['writeOnnx', 'model.onnx', (f) => void writeOnnx(f, model)],
    ];
    for (const [what, name, write] of writers) {
      const file = previous(name);
      assertThrows(() => withFullDisk(64, () => write(file)), new RegExp(`could not write .*${name.replace(/[.]/g, '\\.')}: the disk is full`));
      assertKept(file);
      write(file);
      assert.ok(fs.statSync(file).size > OLD.length, `${what} writes when the disk has room`);
    }
  } finally {
    model.dispose();
  }
});

test('removeStaleTemps: temporary files of dead processes go (one line), those of live ones stay', () => {
  const dir = fs.mkdtempSync(path.join(tmp, 'stale-'));
  const dead = deadPid();
  const names = {
    deadCkpt: `.last.safetensors.${dead}.0123456789ab.tmp`,
    deadOld: `.best.safetensors.${dead}.1712345678901.tmp`, // the earlier writer's timestamp form
    live: `.last.safetensors.${process.pid}.0123456789ab.tmp`,
    unrelated: '.notes.tmp',
    kept: 'last.safetensors',
  };
  for (const n of Object.values(names)) fs.writeFileSync(path.join(dir, n), 'x');
  const lines: string[] = [];
  // a single-file output clears only its own base name
  assert.equal(removeStaleTemps(dir, { base: 'best.safetensors', report: (l) => lines.push(l) }), [names.deadOld]);
  assert.equal(removeStaleTemps(dir, { report: (l) => lines.push(l) }), [names.deadCkpt]);
  assert.equal(fs.readdirSync(dir).sort(), [names.unrelated, names.live, names.kept].sort());
  assert.is(lines.length, 2);
  assert.match(lines[1], new RegExp(`^repmlp: removed 1 stale temporary file in .*stale-.* left by processes no longer running: \\.last\\.safetensors\\.${dead}\\.0123456789ab\\.tmp\\n$`));
  assert.equal(removeStaleTemps(dir, { report: (l) => lines.push(l) }), [], 'nothing left to remove, nothing reported');
  assert.is(lines.length, 2);
  assert.equal(removeStaleTemps(path.join(dir, 'missing')), []);
});

test.run();
