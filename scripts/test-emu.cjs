#!/usr/bin/env node
// `npm run test:emu`: the GPU test suite (`npm run test:gpu`) on a machine without a GPU.
// Builds the addon with the CUDA backend compiled against the CPU emulator in test/cuda-emu
// (build-emu/, incremental), then runs scripts/test-gpu.cjs on it, with the emulator's cuBLAS
// found through the dynamic loader's search path. The training smoke run takes 40 steps
// instead of 200 (REPMLP_SMOKE_STEPS; the emulator runs a step of `small` in about 6 s).
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.join(__dirname, '..');
const emuDir = path.join(root, 'build-emu');

function run(script, args, env) {
  const r = spawnSync(process.execPath, [path.join(__dirname, script), ...args], { cwd: root, stdio: 'inherit', env });
  if (r.error) throw r.error;
  if (r.status !== 0) process.exit(r.status ?? 1);
}

console.log('test:emu: building the CUDA backend on the CPU emulator (build-emu/)');
run('build-native.cjs', [], { ...process.env, REPMLP_CUDA_EMULATOR: '1' });
const libs = path.join(emuDir, 'cuda-emu');
const addonPath = path.join(emuDir, 'Release', 'repmlp.node');
// test-gpu.cjs skips where it sees no CUDA device; here that would be a broken emulator
// build, so it fails instead.
const info = require(addonPath).cudaInfo();
if (!info.compiled || info.devices.length !== 1 || !/emulator/.test(info.devices[0].name ?? '')) {
  console.error(`test:emu: FAILED: ${addonPath} is not the emulator's build (cudaInfo: ${JSON.stringify(info)})`);
  process.exit(1);
}
run('test-gpu.cjs', [], {
  REPMLP_SMOKE_STEPS: '40',
  ...process.env,
  REPMLP_ADDON: addonPath,
  LD_LIBRARY_PATH: [libs, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':'),
});
