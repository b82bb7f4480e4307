// The command line on a full disk and with a busy run directory, in real processes: the
// disk is made full by test/io/enospc-preload.cjs (loaded with -r), so `convert` and a
// resumed `train` exit with code 1 and the message, and the previous file is byte for byte
// as it was (`export-onnx` is checked the same way in this process, through main()); a
// stale temporary file of a dead process is removed at the next start; a
// second `train` on a directory another process holds exits 1 before writing anything,
// and once that process is killed its lock is taken over.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fashionMnistSampleDir, RepMLPNet, writeSafetensors, type RepMLPNetConfig } from '../../lib/index';
import { lockDirectory, LOCK_NAME } from '../../lib/io/lock';
import { train } from '../../lib/train/trainer';
import { assertRejects } from '../helpers';
import { deadPid, enospcPreload, fullDisk, temps } from '../io/helpers';
import { runCli, runCliProcess } from './run-cli';

const root = path.join(__dirname, '..', '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'repmlp-durability-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const TINY: RepMLPNetConfig = {
  inChannels: 1, numClasses: 10, patchSize: 2, numBlocks: [1, 1, 1], channels: [8, 16, 32], hs: [16, 8, 4], ws: [16, 8, 4],
  sharesetsNums: [2, 4, 8], reparamConvK: [1, 3], globalPerceptronReduce: 4,
};
const tinyJson = path.join(tmp, 'tiny.json');
fs.writeFileSync(tinyJson, JSON.stringify(TINY));
const dataDir = fashionMnistSampleDir();

/** `repmlp <args>` in a new process, the disk full after `fullAfter` bytes of files matching `match`. */
function cli(args: string[], full?: { after: number; match?: string }) {
  if (!full) return runCliProcess(args);
  return runCliProcess(args, { preload: [enospcPreload], env: { REPMLP_TEST_ENOSPC_AFTER: String(full.after), REPMLP_TEST_ENOSPC_MATCH: full.match ?? '\\.tmp$' } });
}

test('repmlp convert on a full disk: exit 1, the message, the previous output intact; stale temporary files removed', async () => {
  const input = path.join(tmp, 'train.safetensors');
  const model = new RepMLPNet({ ...TINY, deploy: false });
  writeSafetensors(input, model.stateDict());
  model.dispose();
  const out = path.join(tmp, 'deploy.safetensors');
  assert.is((await runCli(['convert', input, out, '--arch', tinyJson])).code, 0);
  const before = fs.readFileSync(out);
  const stale = `.deploy.safetensors.${deadPid()}.0123456789ab.tmp`;
  fs.writeFileSync(path.join(tmp, stale), 'left by a killed convert');
  const r = cli(['convert', input, out, '--arch', tinyJson], { after: 1000 });
  assert.is(r.code, 1, r.stderr);
  assert.is(r.stderr,
    `repmlp: removed 1 stale temporary file in ${tmp} left by processes no longer running: ${stale}\n` +
    `repmlp: safetensors: could not write ${out}: the disk is full (ENOSPC: no space left on device, write); ${out} keeps its previous content\n`);
  assert.is(r.stdout, '', 'no "converted" line');
  assert.ok(fs.readFileSync(out).equals(before), 'the previous deploy.safetensors is byte-identical');
  assert.equal(temps(tmp), []);
});

test('repmlp export-onnx on a full disk: the error, no "wrote" line, the previous model intact', async () => {
  const weights = path.join(tmp, 'deploy.safetensors');
  const out = path.join(tmp, 'model.onnx');
  assert.is((await runCli(['export-onnx', '--arch', tinyJson, '--weights', weights, out])).code, 0);
  const before = fs.readFileSync(out);
  let stdout = '';
  const io = { out: (t: string) => void (stdout += t), err: () => {} };
  const { main } = require('../../lib/cli') as typeof import('../../lib/cli');
  const undo = fullDisk.install({ after: 4096 });
  try {
    await assertRejects(main(['export-onnx', '--arch', tinyJson, '--weights', weights, out], io), new RegExp(`^writeOnnx: could not write ${esc(out)}: the disk is full \\(ENOSPC`));
  } finally {
    undo();
  }
  assert.is(stdout, '');
  assert.ok(fs.readFileSync(out).equals(before));
  assert.equal(temps(tmp), []);
});

const trainArgs = (out: string) => ['train', '--arch', tinyJson, '--data-dir', dataDir, '--epochs', '2', '--batch-size', '32', '--limit-train', '96',
  '--limit-test', '32', '--out', out];

test('repmlp train --resume on a full disk: exit 1 naming last.safetensors, which keeps the previous checkpoint', async () => {
  const out = path.join(tmp, 'run');
  const first = await train({ arch: TINY, dataDir, epochs: 2, batchSize: 32, limitTrain: 96, limitTest: 32, out, maxSteps: 2, write: () => {}, tty: false });
  assert.is(first.steps, 2);
  const last = path.join(out, 'last.safetensors');
  const before = fs.readFileSync(last);
  const r = cli([...trainArgs(out), '--resume', '--save-every', '1', '--max-steps', '4'], { after: 1000, match: 'last\\.safetensors\\.\\d+\\.[0-9a-f]+\\.tmp$' });
  assert.is(r.code, 1, r.stderr);
  assert.match(r.stdout, /resuming from .*last\.safetensors: epoch 1, batch 2\/3, step 2/);
  assert.match(r.stderr, new RegExp(`^repmlp: safetensors: could not write ${esc(last)}: the disk is full \\(ENOSPC: no space left on device, write\\); ${esc(last)} keeps its previous content\\n$`));
  assert.ok(fs.readFileSync(last).equals(before), 'the previous last.safetensors is byte-identical');
  assert.equal(temps(out), []);
  assert.not.ok(fs.existsSync(path.join(out, LOCK_NAME)), 'the lock is released on the error');
});

test('repmlp train on a directory another process holds exits 1 before writing; a killed holder\'s lock is taken over', async () => {
  const out = path.join(tmp, 'busy');
  const script = `require(${JSON.stringify(path.join(root, 'lib', 'io', 'lock.ts'))}).lockDirectory(${JSON.stringify(out)}); console.log('locked'); setInterval(() => {}, 1000);`;
  const holder = spawn(process.execPath, ['-r', 'tsx/cjs', '-e', script], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => holder.on('exit', resolve));
  try {
    await new Promise<void>((resolve, reject) => {
      holder.stdout!.on('data', (d: Buffer) => d.toString().includes('locked') && resolve());
      holder.on('exit', () => reject(new Error('the lock holder exited early')));
    });
    const r = cli(trainArgs(out));
    console.log(`  the second trainer was refused after ${r.seconds.toFixed(1)} s (process start included)`);
    assert.is(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`^repmlp: train: expected no other run in ${esc(out)} but process ${holder.pid} on ${esc(os.hostname())} \\(started .*\\) holds it \\(${esc(path.join(out, LOCK_NAME))}\\)`));
    assert.equal(fs.readdirSync(out), [LOCK_NAME], 'nothing written into the busy directory');
  } finally {
    holder.kill('SIGKILL');
    await exited;
  }
  const lines: string[] = [];
  lockDirectory(out, { warn: (l) => lines.push(l) }).release();
  assert.match(lines.join(''), new RegExp(`^repmlp: took over the stale lock .* of process ${holder.pid} \\(started .*\\), which is no longer running\\n$`));
});

test.run();
