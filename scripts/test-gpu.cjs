#!/usr/bin/env node
// `npm run test:gpu`: runs the whole uvu suite with tensors on CUDA (REPMLP_TEST_DEVICE=cuda):
// every op against PyTorch's goldens and, in test/backend, against its CPU kernel on fresh
// random inputs; the model and Locality Injection tests. Then the GPU-only files in test/gpu
// (a 200-step training run, out-of-memory recovery). Tests poison new allocations (NaN).
// Without a GPU (no driver, or no device) it prints one skip line and exits 0; a driver that
// cannot run this build (e.g. older than the CUDA runtime it was compiled with) fails.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.join(__dirname, '..');
// REPMLP_ADDON: the addon to test, by path, as lib/native.ts loads it (see test-emu.cjs).
const addon = process.env.REPMLP_ADDON ? require(path.resolve(process.env.REPMLP_ADDON)) : require('node-gyp-build')(root);
const rt = addon.runtimeInfo();
if (!rt.cudaCompiled || rt.cudaDevices === 0) {
  const why = rt.cudaCompiled ? rt.cudaReason : 'this build has no CUDA support';
  // No driver or no device: a machine without a GPU, skipped. A driver that is there but
  // cannot run this build (too old for its CUDA runtime, a broken install) is a failure.
  const noGpu = !rt.cudaCompiled || /^no NVIDIA driver found|^no CUDA device found|no CUDA-capable device/.test(rt.cudaReason);
  console.log(`test:gpu: ${noGpu ? 'skipped' : 'FAILED'}: no usable CUDA device (${why})`);
  process.exit(noGpu ? 0 : 1);
}
const info = addon.cudaInfo();
const d = info.devices[0];
console.log(`test:gpu: ${d.name} (compute capability ${d.computeCapability}), driver ${info.driverVersion}, ` +
  `runtime ${info.runtimeVersion}, cuBLAS ${info.cublas.found ? `${info.cublas.version} from ${info.cublas.path}` : 'NOT FOUND'}`);
if (!info.cublas.found) {
  console.log('test:gpu: cuBLAS was not found; GEMM tests will fail. Tried:');
  for (const t of info.cublas.tried) console.log(`  ${t.path}: ${t.error}`);
}
const uvu = path.join(root, 'node_modules', 'uvu', 'bin.js');
const env = { ...process.env, REPMLP_TEST_DEVICE: 'cuda' };
for (const [dir, pattern] of [['test', '.test.ts$'], ['test/gpu', '.gpu.ts$']]) {
  const r = spawnSync(process.execPath, [uvu, '-r', 'tsx/cjs', dir, pattern], { cwd: root, stdio: 'inherit', env });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
