// The backend chosen when no device is named: CUDA only with a usable device and cuBLAS.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { backend, chooseBackend } from '../../lib/backend';
import { info, type Info } from '../../lib/info';
import { native } from '../../lib/native';
import { DEVICE, assertThrows } from '../helpers';

function fakeInfo(o: { compiled?: boolean; devices?: number; cublas?: boolean; reason?: string }): Info {
  const devices = Array.from({ length: o.devices ?? 0 }, (_, index) => ({
    index, name: 'NVIDIA H100 80GB HBM3', computeCapability: '9.0', totalMemory: 80e9,
  }));
  const available = (o.compiled ?? true) && devices.length > 0;
  return {
    version: '0.0.0',
    backends: {
      cpu: { available: true, threads: 2, isa: 'avx2', isaSupported: 'avx2' },
      cuda: {
        available,
        ...(available ? {} : { reason: o.reason ?? 'no usable CUDA device: no NVIDIA driver found' }),
        compiled: o.compiled ?? true,
        devices,
        driverVersion: devices.length ? '13.0' : null,
        runtimeVersion: '13.0',
        cublas: o.cublas
          ? { found: true, path: '/usr/lib/libcublasLt.so.13', version: '13.0.2', tried: [], tf32: false }
          : { found: false, path: null, version: null, tried: [{ path: 'libcublasLt.so.13', error: 'not found' }], tf32: false },
      },
    },
    distributed: {
      mpi: { found: false, path: null, implementation: null, version: null, tried: [] },
      nccl: { compiled: o.compiled ?? true, found: false, path: null, version: null, tried: [] },
    },
  };
}

test('cuda with a device and cuBLAS; the cpu otherwise, with the reason', () => {
  const gpu = chooseBackend(fakeInfo({ devices: 1, cublas: true }), undefined);
  assert.is(gpu.device, 'cuda');
  assert.match(gpu.reason, /^cuda: NVIDIA H100 80GB HBM3 \(compute capability 9\.0\), driver 13\.0, cuBLAS 13\.0\.2 from \/usr\/lib\/libcublasLt\.so\.13$/);
  const noBlas = chooseBackend(fakeInfo({ devices: 1, cublas: false }), undefined);
  assert.is(noBlas.device, 'cpu');
  assert.match(noBlas.reason, /^cpu \(2 threads\): NVIDIA H100 80GB HBM3 \(compute capability 9\.0\) is present but cuBLAS was not found \(1 place tried; set REPMLP_CUBLAS_PATH/);
  const noGpu = chooseBackend(fakeInfo({ devices: 0 }), undefined);
  assert.equal(noGpu, { device: 'cpu', reason: 'cpu (2 threads): no usable CUDA device: no NVIDIA driver found' });
  const noCuda = chooseBackend(fakeInfo({ compiled: false, reason: 'this build of repmlp has no CUDA support' }), '');
  assert.equal(noCuda, { device: 'cpu', reason: 'cpu (2 threads): this build of repmlp has no CUDA support' });
});

test('REPMLP_DEVICE overrides the choice, and says so', () => {
  assert.equal(chooseBackend(fakeInfo({ devices: 1, cublas: true }), 'cpu'), { device: 'cpu', reason: 'cpu: chosen by REPMLP_DEVICE=cpu' });
  assert.match(chooseBackend(fakeInfo({ devices: 1, cublas: true }), 'cuda').reason, /\(chosen by REPMLP_DEVICE=cuda\)$/);
  assertThrows(() => chooseBackend(fakeInfo({ devices: 0 }), 'cuda'), /^REPMLP_DEVICE=cuda, but CUDA cannot be used: no usable CUDA device/);
  assertThrows(() => chooseBackend(fakeInfo({ devices: 1, cublas: true }), 'gpu'), /^REPMLP_DEVICE: expected 'cpu' or 'cuda' for the environment variable but received 'gpu'/);
});

test('this machine: the GPU run chooses cuda, a machine without a usable GPU the cpu', () => {
  const b = backend();
  const cuda = info().backends.cuda;
  if (process.env.REPMLP_DEVICE) return; // an explicit choice is checked above
  assert.is(b.device, cuda.available && cuda.cublas.found ? 'cuda' : 'cpu', b.reason);
  if (DEVICE === 'cuda') assert.is(b.device, 'cuda', b.reason);
});

test('cuBLAS search: the site-packages of a python3 on PATH (a venv that is not activated)', () => {
  const cu = native.cudaInfo();
  if (!cu.compiled) {
    // A build without CUDA never searches.
    assert.is(cu.cublas.found, false);
    return;
  }
  // <venv>/bin/python3 on PATH, a wheel folder under <venv>/lib/python3.12/site-packages holding
  // a file named like cuBLAS that is no library: the search must try it and say why it failed.
  const venv = fs.mkdtempSync(path.join(os.tmpdir(), 'repmlp-venv-'));
  const lib = path.join(venv, 'lib', 'python3.12', 'site-packages', 'nvidia', 'cublas', 'lib');
  fs.mkdirSync(path.join(venv, 'bin'));
  fs.writeFileSync(path.join(venv, 'bin', 'python3'), '#!/bin/sh\n', { mode: 0o755 });
  fs.mkdirSync(lib, { recursive: true });
  fs.writeFileSync(path.join(lib, 'libcublas.so.12'), 'not an ELF file');
  const saved = { PATH: process.env.PATH, VIRTUAL_ENV: process.env.VIRTUAL_ENV };
  try {
    process.env.PATH = `${path.join(venv, 'bin')}${path.delimiter}${saved.PATH ?? ''}`;
    delete process.env.VIRTUAL_ENV;
    const { cublas } = native.cudaInfo();
    // Where a real cuBLAS loads before the wheel folders (a GPU machine), the search stops there.
    if (cublas.found) return;
    const tried = cublas.tried.find((t) => t.path === path.join(lib, 'libcublas.so.12'));
    assert.ok(tried, `tried: ${JSON.stringify(cublas.tried, null, 1)}`);
    assert.match(tried!.error, /libcublas\.so\.12: (file too short|invalid ELF header)/);
  } finally {
    process.env.PATH = saved.PATH;
    if (saved.VIRTUAL_ENV !== undefined) process.env.VIRTUAL_ENV = saved.VIRTUAL_ENV;
    fs.rmSync(venv, { recursive: true, force: true });
  }
});

test.run();
