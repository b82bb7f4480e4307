// Data-parallel training over 2 ranks on the CPU, started by mpirun (MPI is required: see
// mpirun.ts). With BatchNorm over the ranks, 2 ranks at global batch B give the weights of
// one process at batch B after every step, to float-summation tolerance, and hold the very
// same weights and buffers on both ranks; the trainer's run of 2 ranks matches one
// process's and resumes exactly, on an image folder too (mixed batches, bad images left
// out); Ctrl-C stops every rank after a step; a rank that fails or hangs stops every rank.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readSafetensors, type HostTensor } from '../../lib/index';
import { interruptCli, runCli, scratchDir } from '../cli/run-cli';
import { buildImageFolder, writeBadImages } from '../data/images/folder-fixture';
import { assertRejects } from '../helpers';
import { assertExitedByItself, jsonLines, mpirun, requireMpi, tsxCommand } from './mpirun';

interface StepLine {
  step: number;
  identical: boolean;
  worst: number;
  largest: number;
  worldSize: number;
  /** rank 0's live native buffers after the step less those after the first */
  leaked: number;
}

const FIXTURE = path.join(__dirname, 'fixtures', 'ddp-rank.ts');
const fixture = (args: object) => tsxCommand(FIXTURE, [JSON.stringify({ steps: 4, batch: 8, mode: 'train', ...args })]);

test.before(() => requireMpi());

test('2 ranks with BatchNorm over the ranks: one process\'s weights after every step, the same on both ranks', () => {
  const r = mpirun(2, fixture({ syncBatchNorm: true, overlap: true }));
  assert.is(r.code, 0, r.stderr);
  const steps = jsonLines<StepLine>(r.stdout);
  assert.is(steps.length, 4, r.stdout);
  for (const s of steps) {
    assert.is(s.worldSize, 2);
    assert.ok(s.identical, `step ${s.step}: the ranks' weights differ`);
    assert.is(s.leaked, 0, `step ${s.step}: native buffers left behind`);
    // float32 sums in another order: a few units in the last place of the largest weight
    assert.ok(s.worst <= 1e-6 * s.largest, `step ${s.step}: worst difference ${s.worst} to one process (largest weight ${s.largest})`);
  }
});

test('2 ranks with BatchNorm per rank, gradients reduced after backward: the same weights on both ranks, not one process\'s', () => {
  const r = mpirun(2, fixture({ syncBatchNorm: false, overlap: false }));
  assert.is(r.code, 0, r.stderr);
  const steps = jsonLines<StepLine>(r.stdout);
  assert.is(steps.length, 4, r.stdout);
  for (const s of steps) assert.ok(s.identical, `step ${s.step}: the ranks' weights differ`);
  // each rank normalises its half of the batch by its own statistics
  assert.ok(steps[3].worst > 1e-3, `worst difference ${steps[3].worst}: per-rank BatchNorm should differ from one process`);
});

/** The model's float32 tensors of a training checkpoint. */
function weights(file: string): Map<string, HostTensor> {
  return new Map([...readSafetensors(file)].filter(([k, t]) => k.startsWith('model.') && t.dtype === 'float32'));
}

function worstDiff(a: Map<string, HostTensor>, b: Map<string, HostTensor>): { worst: number; largest: number } {
  let worst = 0, largest = 0;
  for (const [k, t] of a) {
    const u = b.get(k)!.data;
    t.data.forEach((v, i) => {
      worst = Math.max(worst, Math.abs(Number(v) - Number(u[i])));
      largest = Math.max(largest, Math.abs(Number(v)));
    });
  }
  return { worst, largest };
}

const TRAIN = ['--device', 'cpu', '--limit-train', '64', '--limit-test', '40', '--batch-size', '16', '--epochs', '1', '--opt', 'sgd', '--lr', '0.05', '--no-augment', '--sync-bn', '--json'];
const cli = path.join(__dirname, '..', '..', 'lib', 'cli.ts');

test('repmlp train on 2 ranks: one process\'s weights; rank 0 alone writes; a resumed run repeats the uninterrupted one exactly', async () => {
  const dir = scratchDir('dist-train');
  const one = await runCli(['train', ...TRAIN, '--out', path.join(dir, 'one')]);
  assert.is(one.code, 0, one.stderr);
  // --nproc 2: the command starts its ranks through mpirun itself
  const [node, ...args] = tsxCommand(cli, ['train', '--nproc', '2', ...TRAIN, '--out', path.join(dir, 'two')]);
  const whole = spawnSync(node, args, { encoding: 'utf8' });
  assert.is(whole.status, 0, whole.stderr);
  const summaries = jsonLines<{ worldSize: number; steps: number; testAccuracy: number }>(whole.stdout);
  assert.is(summaries.length, 1, 'rank 0 alone prints the summary');
  assert.is(summaries[0].worldSize, 2);
  assert.is(summaries[0].steps, 4);
  const d = worstDiff(weights(path.join(dir, 'one', 'last.safetensors')), weights(path.join(dir, 'two', 'last.safetensors')));
  assert.ok(d.worst <= 1e-5 * d.largest, `worst difference ${d.worst} (largest weight ${d.largest})`);
  const records = fs.readFileSync(path.join(dir, 'two', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string });
  assert.is(records.filter((x) => x.type === 'epoch').length, 1, 'one epoch record: rank 0 alone writes metrics.jsonl');
  // stopped after 2 steps, then resumed: the same weights, bit for bit
  const part = path.join(dir, 'part');
  assert.is(mpirun(2, tsxCommand(cli, ['train', ...TRAIN, '--out', part, '--max-steps', '2'])).code, 0);
  const resumed = mpirun(2, tsxCommand(cli, ['train', ...TRAIN, '--out', part, '--resume']));
  assert.is(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stdout, /resuming from .*last\.safetensors: epoch 1, batch 2\/4, step 2/);
  assert.is(worstDiff(weights(path.join(dir, 'two', 'last.safetensors')), weights(path.join(part, 'last.safetensors'))).worst, 0);
  // a run of another world size refuses the checkpoint
  await assertRejects(runCli(['train', ...TRAIN, '--out', part, '--resume']), /to come from a run with the same config and options .*"worldSize":2/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('repmlp train on 2 ranks over an image folder, mixed, bad images left out: one process\'s weights and counts', async () => {
  const dir = scratchDir('dist-folder');
  const fx = await buildImageFolder({ perClass: 12, classes: 4, layout: 'imagenet', kinds: ['png', 'jpeg'], sizes: [[28, 28], [36, 30]], dir: path.join(dir, 'images') });
  await writeBadImages(path.join(fx.dir, 'train', fx.classes[0]));
  const args = [
    'train', '--data', fx.dir, '--skip-bad-images', '--norm', 'dataset', '--workers', '1', '--mixup', '0.4', '--limit-train', '40', '--batch-size', '8', '--epochs', '1',
    '--device', 'cpu', '--opt', 'sgd', '--lr', '0.05', '--sync-bn', '--json',
  ];
  const one = await runCli([...args, '--out', path.join(dir, 'one')]);
  assert.is(one.code, 0, one.stderr);
  const [node, ...rest] = tsxCommand(cli, [...args, '--nproc', '2', '--out', path.join(dir, 'two')]);
  const two = spawnSync(node, rest, { encoding: 'utf8' });
  assert.is(two.status, 0, two.stderr);
  const [a, b] = [one.stdout, two.stdout].map((o) => jsonLines<{ worldSize: number; steps: number; skippedImages: number; testAccuracy: number }>(o).pop()!);
  assert.equal([a.worldSize, b.worldSize, b.steps], [1, 2, 5]);
  assert.ok(a.skippedImages > 0, 'bad images among the training images used');
  assert.equal([b.skippedImages, b.testAccuracy], [a.skippedImages, a.testAccuracy], 'counted over the ranks');
  assert.match(two.stdout, /^normalisation: the training images' own mean/m);
  const d = worstDiff(weights(path.join(dir, 'one', 'last.safetensors')), weights(path.join(dir, 'two', 'last.safetensors')));
  assert.ok(d.worst <= 1e-5 * d.largest, `worst difference ${d.worst} (largest weight ${d.largest})`);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('Ctrl-C stops every rank of repmlp train --nproc 2 after a step, saved, with exit code 130; the run resumes', async () => {
  const dir = scratchDir('dist-interrupt');
  const args = ['train', '--nproc', '2', '--device', 'cpu', '--limit-train', '512', '--limit-test', '32', '--batch-size', '32', '--epochs', '1', '--log-every', '1', '--out', dir];
  const r = await interruptCli(args, /step 2\/16/);
  assert.is(r.code, 130, r.stderr);
  assert.is(r.stderr.match(/repmlp: interrupted: the run stops after this step, saving last\.safetensors/g)?.length, 1, `rank 0 alone says it: ${r.stderr}`);
  const step = Number(/stopped after step (\d+); continue with resume/.exec(r.stdout)?.[1]);
  assert.ok(step >= 2 && step < 16, `stopped after step ${step} of 16: ${r.stdout}`);
  assert.ok(fs.existsSync(path.join(dir, 'last.safetensors')));
  assert.not.ok(fs.existsSync(path.join(dir, 'train.lock')), 'the lock is released');
  const [node, ...rest] = tsxCommand(cli, [...args, '--resume']);
  const resumed = spawnSync(node, rest, { encoding: 'utf8' });
  assert.is(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stdout, new RegExp(`resuming from .*last\\.safetensors: epoch 1, batch ${step}/16, step ${step}`));
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a rank that fails stops every rank with its error', () => {
  const r = mpirun(2, fixture({ syncBatchNorm: true, overlap: true, mode: 'fail' }));
  assert.is.not(r.code, 0);
  assert.match(r.stderr, /rank 1 stops here on purpose/);
  assertExitedByItself(r);
  // the trainer's errors name the rank
  const odd = mpirun(2, tsxCommand(cli, ['train', '--device', 'cpu', '--batch-size', '15', '--limit-train', '64', '--out', scratchDir('dist-odd')]));
  assert.is(odd.code, 1);
  assert.match(odd.stderr, /repmlp: rank [01] of 2: train: expected a global batch divisible by the 2 ranks for batchSize but received 15/);
});

test('a rank that never comes to a collective: the others abort every rank after the timeout', () => {
  const r = mpirun(2, fixture({ syncBatchNorm: true, overlap: true, mode: 'hang', timeoutSeconds: 2 }));
  assert.is.not(r.code, 0);
  assert.match(r.stderr, /rank 0 of 2: .* did not complete within 2 s \(a rank has failed or stopped\); aborting every rank/);
  assertExitedByItself(r);
});

test.run();
