// `repmlp train`'s distributed options (lib/cli/train.ts): --sync-bn and --threads-per-rank
// as the trainer's options, --nproc checked and refused under a launcher (which starts the
// ranks itself); the help names them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseCommandLine } from '../../lib/cli/args';
import { command, trainOptions } from '../../lib/cli/train';
import { runCli } from './run-cli';

const parse = (...args: string[]) => trainOptions(parseCommandLine('train', args, command.options));

test('--sync-bn and --threads-per-rank reach the trainer; by default neither', () => {
  assert.equal([parse().syncBatchNorm, parse().threadsPerRank], [false, undefined]);
  assert.equal([parse('--sync-bn').syncBatchNorm, parse('--threads-per-rank', '2').threadsPerRank], [true, 2]);
});

test('bad values of --nproc and --threads-per-rank, and --nproc under a launcher, are usage errors', async () => {
  for (const [args, re] of [
    [['--nproc', '0'], /^repmlp train: expected a positive integer for --nproc but received '0'/],
    [['--threads-per-rank', '-1'], /^repmlp train: expected a positive integer for --threads-per-rank but received '-1'/],
  ] as [string[], RegExp][]) {
    const r = await runCli(['train', ...args]);
    assert.is(r.code, 2, args.join(' '));
    assert.match(r.stderr, re);
  }
  process.env.OMPI_COMM_WORLD_SIZE = '2';
  try {
    const r = await runCli(['train', '--nproc', '2']);
    assert.is(r.code, 2);
    assert.match(r.stderr, /^repmlp train: --nproc starts the ranks itself; under an MPI launcher \(mpirun -np N repmlp train\) leave it out/);
  } finally {
    delete process.env.OMPI_COMM_WORLD_SIZE;
  }
});

test('the help names the distributed options', async () => {
  const r = await runCli(['train', '--help']);
  for (const o of ['--nproc <N>', '--threads-per-rank <T>', '--sync-bn']) assert.ok(r.stdout.includes(o), o);
  assert.match(r.stdout, /mpirun -np N repmlp train/);
});

test.run();
