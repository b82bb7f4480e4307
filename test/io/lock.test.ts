// The run directory lock: exclusive while held (also within one process), a stale lock of a
// dead process taken over with one line, never one of another host or one being created,
// released on normal end and when the trainer throws; a second trainer is refused at once.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { lockDirectory, LOCK_NAME } from '../../lib/io/lock';
import { fashionMnistSampleDir, type RepMLPNetConfig } from '../../lib/index';
import { train, type TrainOptions } from '../../lib/train/trainer';
import { assertRejects, assertThrows } from '../helpers';
import { deadPid } from './helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'repmlp-lock-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const re = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('a second lock on the directory is refused, naming the directory and the pid; release frees it', () => {
  const dir = path.join(tmp, 'run');
  const a = lockDirectory(dir, { op: 'train' });
  const held = JSON.parse(fs.readFileSync(path.join(dir, LOCK_NAME), 'utf8')) as { pid: number; host: string; started: string };
  assert.equal([held.pid, held.host], [process.pid, os.hostname()]);
  assert.ok(!Number.isNaN(Date.parse(held.started)));
  assertThrows(() => lockDirectory(dir, { op: 'train' }),
    new RegExp(`^train: expected no other run in ${re(dir)} but process ${process.pid} on ${re(os.hostname())} \\(started .*\\) holds it \\(${re(path.join(dir, LOCK_NAME))}\\)`));
  a.release();
  a.release(); // a second release does nothing
  assert.not.ok(fs.existsSync(path.join(dir, LOCK_NAME)));
  const b = lockDirectory(dir);
  b.release();
});

test('a stale lock (its process is gone) is taken over with one line on the warning channel', () => {
  const dir = fs.mkdtempSync(path.join(tmp, 'stale-'));
  const dead = deadPid();
  fs.writeFileSync(path.join(dir, LOCK_NAME), JSON.stringify({ pid: dead, host: os.hostname(), started: '2020-01-01T00:00:00.000Z' }));
  const lines: string[] = [];
  const lock = lockDirectory(dir, { op: 'train', warn: (l) => lines.push(l) });
  assert.equal(lines, [`repmlp: took over the stale lock ${path.join(dir, LOCK_NAME)} of process ${dead} (started 2020-01-01T00:00:00.000Z), which is no longer running\n`]);
  assert.is((JSON.parse(fs.readFileSync(lock.file, 'utf8')) as { pid: number }).pid, process.pid);
  assert.equal(fs.readdirSync(dir), [LOCK_NAME], 'the stale file is gone, no leftovers');
  lock.release();
});

test("another host's lock is never taken over; an unreadable one only once it is old", () => {
  const dir = fs.mkdtempSync(path.join(tmp, 'other-'));
  const file = path.join(dir, LOCK_NAME);
  fs.writeFileSync(file, JSON.stringify({ pid: deadPid(), host: 'elsewhere.example', started: 'x' }));
  assertThrows(() => lockDirectory(dir), /on elsewhere\.example \(started x\), which this host cannot check holds it/);
  // an empty lock: its creator may be about to write its pid
  fs.writeFileSync(file, '');
  assertThrows(() => lockDirectory(dir), /but a process that is creating the lock right now holds it/);
  const old = new Date(Date.now() - 60_000);
  fs.utimesSync(file, old, old);
  const lines: string[] = [];
  lockDirectory(dir, { warn: (l) => lines.push(l) }).release();
  assert.match(lines[0], /took over the stale lock .* of a process that died while creating it/);
});

// A reduced model on the shipped sample, as in test/train/trainer.test.ts.
const TINY: RepMLPNetConfig = {
  inChannels: 1, numClasses: 10, patchSize: 2, numBlocks: [1, 1, 1], channels: [8, 16, 32], hs: [16, 8, 4], ws: [16, 8, 4],
  sharesetsNums: [2, 4, 8], reparamConvK: [1, 3], globalPerceptronReduce: 4,
};
const quick = (out: string, more: TrainOptions = {}) =>
  train({ arch: TINY, dataDir: fashionMnistSampleDir(), batchSize: 32, limitTrain: 96, limitTest: 32, epochs: 1, out, prefetch: false, write: () => {}, tty: false, ...more });

test('train: a second trainer on the same directory fails at once; the lock is released at the end and after a throw', async () => {
  const out = path.join(tmp, 'train');
  const first = quick(out); // the lock is taken before the first await of train()
  assert.ok(fs.existsSync(path.join(out, LOCK_NAME)));
  await assertRejects(quick(out), new RegExp(`^train: expected no other run in ${re(out)} but process ${process.pid} on .* holds it`));
  const summary = await first;
  assert.is(summary.steps, 3);
  assert.not.ok(fs.existsSync(path.join(out, LOCK_NAME)), 'released at the end');
  await assertRejects(quick(out, { shouldStop: () => { throw new Error('killed'); } }), /^killed$/);
  assert.not.ok(fs.existsSync(path.join(out, LOCK_NAME)), 'released after a throw');
});

test.run();
