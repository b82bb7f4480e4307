// Where MPI and NCCL are looked for (native/dist/mpi.h, native/cuda/nccl.h), each search in
// a fresh process (a library found stays loaded): REPMLP_MPI_PATH and REPMLP_NCCL_PATH are
// tried first and a bad one is reported; a library that is not MPI is refused; the MPI of
// this machine is found with its implementation.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { DistEngines } from '../../lib/native';
import { requireMpi } from './mpirun';

const root = path.join(__dirname, '..', '..');

function freshEngines(env: NodeJS.ProcessEnv): DistEngines {
  const script =
    "const a = process.env.REPMLP_ADDON ? require(require('path').resolve(process.env.REPMLP_ADDON)) : require('node-gyp-build')(process.cwd());" +
    'process.stdout.write(JSON.stringify(a.distInfo()))';
  const r = spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8', env: { ...process.env, ...env } });
  assert.is(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as DistEngines;
}

test('this machine\'s MPI is found, with its implementation and version', () => {
  requireMpi();
  const { mpi } = freshEngines({});
  assert.ok(mpi.found);
  assert.ok(['Open MPI', 'MPICH'].includes(mpi.implementation!), String(mpi.implementation));
  assert.ok(path.isAbsolute(mpi.path!) && fs.existsSync(mpi.path!), String(mpi.path));
  assert.match(mpi.version ?? '', /MPI/);
});

test('REPMLP_MPI_PATH is tried first; a missing path, an empty folder and a library that is not MPI are reported', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'repmlp-mpi-'));
  try {
    assert.equal(freshEngines({ REPMLP_MPI_PATH: '/nonexistent' }).mpi.tried[0], { path: '/nonexistent', error: 'no such file or folder' });
    assert.equal(freshEngines({ REPMLP_MPI_PATH: dir }).mpi.tried[0],
      { path: dir, error: 'no libmpi.so.40, libmpi.so.12, libmpich.so.12 or libmpi.so in this folder' });
    // a shared library that loads but is no MPI: the addon itself
    const addon = path.join(root, 'build', 'Release', 'repmlp.node');
    const notMpi = freshEngines({ REPMLP_MPI_PATH: process.env.REPMLP_ADDON ? path.resolve(process.env.REPMLP_ADDON) : addon }).mpi.tried[0];
    assert.match(notMpi.error, /^loaded, but it is not an MPI library \(no MPI_Get_library_version\)$/);
    const fake = path.join(dir, 'libmpi.so.40');
    fs.writeFileSync(fake, 'not a shared library');
    assert.match(freshEngines({ REPMLP_MPI_PATH: fake }).mpi.tried[0].error, /libmpi\.so\.40: .*(ELF|too short)/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('REPMLP_NCCL_PATH is tried first in builds with CUDA (NCCL serves CUDA tensors only)', () => {
  const { nccl } = freshEngines({ REPMLP_NCCL_PATH: '/nonexistent' });
  if (!nccl.compiled) {
    assert.equal([nccl.found, nccl.tried], [false, []]);
    return;
  }
  assert.equal(nccl.tried[0], { path: '/nonexistent', error: 'no such file or folder' });
  if (!nccl.found) assert.ok(nccl.tried.some((t) => t.path.includes('nvidia/nccl/lib')), JSON.stringify(nccl.tried));
});

test.run();
