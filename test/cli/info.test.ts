import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { info, setTf32, type Info } from '../../lib/index';
import { main } from '../../lib/cli';
import { formatInfo } from '../../lib/cli/info';
import type { Io } from '../../lib/cli/command';
import { native, type CudaInfo } from '../../lib/native';
import { assertThrows, DEVICE } from '../helpers';

const root = path.join(__dirname, '..', '..');
const tsxCli = require.resolve('tsx/cli');
const version = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;

function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [tsxCli, 'lib/cli.ts', ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

// cudaInfo() in a fresh process (the addon loaded as lib/native.ts loads it).
function freshCudaInfo(env: NodeJS.ProcessEnv): CudaInfo {
  const script =
    "const a = process.env.REPMLP_ADDON ? require(require('path').resolve(process.env.REPMLP_ADDON)) : require('node-gyp-build')(process.cwd());" +
    'process.stdout.write(JSON.stringify(a.cudaInfo()))';
  const r = spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8', env: { ...process.env, ...env } });
  assert.is(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as CudaInfo;
}

function buffers(): Io & { stdout: string; stderr: string } {
  const io = {
    stdout: '',
    stderr: '',
    out: (t: string) => void (io.stdout += t),
    err: (t: string) => void (io.stderr += t),
  };
  return io;
}

// What this machine should report: a GPU run (npm run test:gpu) must see a device; a build
// without CUDA says so; a CUDA build on a machine without a GPU names the driver or device.
function checkCuda(cuda: Info['backends']['cuda']): void {
  assert.type(cuda.available, 'boolean');
  assert.ok(Array.isArray(cuda.devices));
  if (!cuda.compiled) {
    assert.is(cuda.available, false);
    assert.match(cuda.reason ?? '', /no CUDA support/);
    assert.is(cuda.devices.length, 0);
    return;
  }
  assert.match(cuda.runtimeVersion ?? '', /^\d+\.\d+$/);
  if (DEVICE === 'cuda') assert.ok(cuda.available, `a GPU run needs a usable device: ${cuda.reason}`);
  if (cuda.available) {
    assert.is(cuda.reason, undefined);
    assert.ok(cuda.devices.length > 0);
    cuda.devices.forEach((d, i) => {
      assert.is(d.index, i);
      assert.type(d.name, 'string');
      assert.match(d.computeCapability ?? '', /^\d+\.\d+$/);
      assert.ok((d.totalMemory ?? 0) > 0);
    });
    assert.match(cuda.driverVersion ?? '', /^\d+\.\d+$/);
  } else {
    assert.is(cuda.devices.length, 0);
    assert.match(cuda.reason ?? '', /driver|device/i);
  }
  const b = cuda.cublas;
  assert.type(b.found, 'boolean');
  assert.type(b.tf32, 'boolean');
  assert.ok(Array.isArray(b.tried));
  if (b.found) {
    assert.type(b.path, 'string');
    assert.match(b.version ?? '', /^\d+\.\d+\.\d+$/);
  } else {
    assert.is(b.path, null);
    assert.ok(b.tried.length > 0, 'a failed search lists what it tried');
    for (const t of b.tried) {
      assert.type(t.path, 'string');
      assert.ok(t.error.length > 0, `no reason for ${t.path}`);
    }
  }
}

test('info(): version, cpu threads and the cuda backend', () => {
  const i = info();
  assert.is(i.version, version);
  assert.is(i.backends.cpu.available, true);
  assert.is(i.backends.cpu.threads, native.runtimeInfo().threads);
  assert.ok(i.backends.cpu.threads >= 1);
  assert.ok(['avx512', 'avx2', 'baseline'].includes(i.backends.cpu.isa), i.backends.cpu.isa);
  assert.is(i.backends.cpu.isa, i.backends.cpu.isaSupported);
  checkCuda(i.backends.cuda);
});

test('repmlp info --json prints the same information as JSON', () => {
  const r = cli(['info', '--json']);
  assert.is(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as Info;
  assert.is(j.version, version);
  assert.ok(j.backends.cpu.threads >= 1);
  checkCuda(j.backends.cuda);
  assert.equal(j.backends.cuda.cublas.found, info().backends.cuda.cublas.found);
});

test('repmlp info prints a short table', () => {
  const r = cli(['info']);
  assert.is(r.code, 0, r.stderr);
  const i = info();
  assert.ok(r.stdout.startsWith(`repmlp ${version}\n`), r.stdout);
  assert.match(r.stdout, new RegExp(`\\ncpu +yes +${i.backends.cpu.threads} threads?, ${i.backends.cpu.isa} GEMM\\n`));
  const cuda = i.backends.cuda;
  if (cuda.available) assert.match(r.stdout, /\ncuda +yes +\d+ devices?/);
  else assert.ok(r.stdout.includes(`cuda     no         ${cuda.reason}`), r.stdout);
  if (cuda.compiled) assert.match(r.stdout, cuda.cublas.found ? /cuBLAS \S+ at \// : /cuBLAS not found \(\d+ places? tried/);
});

test('the table lists devices and the cuBLAS found', () => {
  const i: Info = {
    version: '9.9.9',
    backends: {
      cpu: { available: true, threads: 1, isa: 'avx2', isaSupported: 'avx512' },
      cuda: {
        available: true,
        compiled: true,
        devices: [{ index: 0, name: 'NVIDIA H100 80GB HBM3', computeCapability: '9.0', totalMemory: 85520809984 }],
        driverVersion: '13.0',
        runtimeVersion: '13.0',
        cublas: { found: true, path: '/opt/cuda/lib64/libcublas.so.13', version: '13.0.2', tried: [], tf32: true },
      },
    },
    distributed: {
      mpi: { found: true, path: '/usr/lib/libmpi.so.40', implementation: 'Open MPI', version: 'Open MPI v4.1.4', tried: [] },
      nccl: { compiled: true, found: false, path: null, version: null, tried: [{ path: 'libnccl.so.2', error: 'not here' }] },
    },
  };
  const text = formatInfo(i);
  assert.match(text, /^repmlp 9\.9\.9\n/);
  assert.match(text, /\ncpu +yes +1 thread, avx2 GEMM\n/);
  assert.match(text, /\ncuda +yes +1 device\n/);
  assert.match(text, /\nCUDA runtime 13\.0, driver 13\.0\n/);
  assert.match(text, /\n0 +NVIDIA H100 80GB HBM3 +9\.0 +79\.6 GiB\n/);
  assert.match(text, /\ncuBLAS 13\.0\.2 at \/opt\/cuda\/lib64\/libcublas\.so\.13, TF32 on\n/);
  assert.match(text, /\nMPI: Open MPI \(Open MPI v4\.1\.4\) at \/usr\/lib\/libmpi\.so\.40\n/);
  assert.match(text, /\nNCCL not found \(1 place tried, listed by --json\): distributed training on CUDA needs it;\n {2}`pip install nvidia-nccl-cu12`/);
});

test('bad command lines print the usage and exit with code 2', async () => {
  const flag = cli(['info', '--bogus']);
  assert.is(flag.code, 2);
  assert.is(flag.stdout, '');
  assert.match(flag.stderr, /repmlp info: unknown option '--bogus'/);
  assert.match(flag.stderr, /Usage: repmlp info \[--json\]/);

  let io = buffers();
  assert.is(await main(['frobnicate'], io), 2);
  assert.match(io.stderr, /repmlp: unknown command 'frobnicate'/);
  assert.match(io.stderr, /Usage: repmlp <command>/);
  assert.match(io.stderr, /\n {2}info +show the version/);
  io = buffers();
  assert.is(await main(['--verbose'], io), 2);
  assert.match(io.stderr, /repmlp: unknown option '--verbose'/);
  io = buffers();
  assert.is(await main([], io), 2);
  assert.match(io.stderr, /Usage: repmlp <command>/);
  io = buffers();
  assert.is(await main(['info', 'extra'], io), 2);
  assert.match(io.stderr, /repmlp info: unexpected argument 'extra'/);
  assert.is(io.stdout, '');
});

test('--help, help <command> and --version', async () => {
  let io = buffers();
  assert.is(await main(['--help'], io), 0);
  assert.match(io.stdout, /^Usage: repmlp <command> \[options\]/);
  assert.is(io.stderr, '');
  io = buffers();
  assert.is(await main(['info', '--help'], io), 0);
  assert.match(io.stdout, /^Usage: repmlp info \[--json\]/);
  io = buffers();
  assert.is(await main(['help', 'info'], io), 0);
  assert.match(io.stdout, /^Usage: repmlp info \[--json\]/);
  io = buffers();
  assert.is(await main(['--version'], io), 0);
  assert.is(io.stdout, `${version}\n`);
});

test('REPMLP_CUBLAS_PATH is tried first, and a bad one is reported', () => {
  const baseline = native.cudaInfo();
  const missing = freshCudaInfo({ REPMLP_CUBLAS_PATH: '/nonexistent' });
  if (!baseline.compiled) {
    assert.is(missing.cublas.found, false);
    assert.equal(missing.cublas.tried, []);
    return;
  }
  assert.equal(missing.cublas.tried[0], { path: '/nonexistent', error: 'no such file or folder' });
  // The search goes on after it: only a cuBLAS installed elsewhere can be found.
  assert.is(missing.cublas.found, baseline.cublas.found);
  if (!baseline.cublas.found) assert.is(missing.cublas.path, null);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'repmlp-cublas-'));
  try {
    const empty = freshCudaInfo({ REPMLP_CUBLAS_PATH: dir });
    assert.equal(empty.cublas.tried[0], { path: dir, error: 'no libcublas.so.13, libcublas.so.12 or libcublas.so in this folder' });
    const notLib = path.join(dir, 'libcublas.so.12');
    fs.writeFileSync(notLib, 'not a shared library');
    const bad = freshCudaInfo({ REPMLP_CUBLAS_PATH: notLib });
    assert.is(bad.cublas.tried[0].path, notLib);
    assert.match(bad.cublas.tried[0].error, /libcublas\.so\.12: .*(ELF|too short)/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('setTf32 switches TF32 for float32 GEMMs and checks its argument', () => {
  const compiled = native.cudaInfo().compiled;
  try {
    assert.is(setTf32(true), compiled);
    assert.is(info().backends.cuda.cublas.tf32, compiled);
    assert.is(setTf32(false), false);
    assert.is(info().backends.cuda.cublas.tf32, false);
  } finally {
    setTf32(false);
  }
  assertThrows(() => setTf32(1 as never), /setTf32: expected a boolean for on but received 1/);
  assertThrows(() => native.setTf32('yes' as never), /setTf32: expected a boolean for on/);
});

test('REPMLP_TF32=1 turns TF32 on from the start', () => {
  const on = freshCudaInfo({ REPMLP_TF32: '1' });
  const off = freshCudaInfo({ REPMLP_TF32: '0' });
  assert.is(on.cublas.tf32, on.compiled);
  assert.is(off.cublas.tf32, false);
});

test.run();
