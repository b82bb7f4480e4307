#!/usr/bin/env node
// `npm run test:emu`: the GPU test suite (`npm run test:gpu`) on a machine without a GPU.
// Builds the addon with the CUDA backend compiled against the CPU emulator in test/cuda-emu
// (build-emu/, incremental), then runs
//   1. the emulator's self-test, in the two settings below;
//   2. scripts/test-gpu.cjs on that addon, with the emulator's cuBLAS found through the dynamic
//      loader's search path (the training smoke run takes 40 steps instead of 200,
//      REPMLP_SMOKE_STEPS; the emulator runs a step of `small` in about 6 s);
//   3. the uvu suite on CUDA again with blocks and threads in reverse order and each
//      allocation against a guard page at its start instead of its end (CUDA_EMU_ORDER=reverse,
//      CUDA_EMU_GUARD=before), so that a race between threads shows in one of the two runs,
//      and a read before the start of a tensor faults.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.join(__dirname, '..');
const emuDir = path.join(root, 'build-emu');

function run(file, args, env) {
  const r = spawnSync(file, args, { cwd: root, stdio: 'inherit', env });
  if (r.error) throw r.error;
  if (r.status !== 0) process.exit(r.status ?? 1);
}
const node = (script, args, env) => run(process.execPath, [path.join(__dirname, script), ...args], env);

console.log('test:emu: building the CUDA backend on the CPU emulator (build-emu/)');
node('build-native.cjs', [], { ...process.env, REPMLP_CUDA_EMULATOR: '1' });
const libs = path.join(emuDir, 'cuda-emu');
const addonPath = path.join(emuDir, 'Release', 'repmlp.node');
// test-gpu.cjs skips where it sees no CUDA device; here that would be a broken emulator
// build, so it fails instead.
const info = require(addonPath).cudaInfo();
if (!info.compiled || info.devices.length !== 1 || !/emulator/.test(info.devices[0].name ?? '')) {
  console.error(`test:emu: FAILED: ${addonPath} is not the emulator's build (cudaInfo: ${JSON.stringify(info)})`);
  process.exit(1);
}
const SECOND = { CUDA_EMU_ORDER: 'reverse', CUDA_EMU_GUARD: 'before' };
for (const setting of [{ CUDA_EMU_ORDER: 'forward', CUDA_EMU_GUARD: 'after' }, SECOND])
  run(path.join(libs, 'cuda_emu_selftest'), [], { ...process.env, ...setting });
const env = {
  ...process.env,
  REPMLP_ADDON: addonPath,
  LD_LIBRARY_PATH: [libs, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':'),
};
node('test-gpu.cjs', [], { REPMLP_SMOKE_STEPS: '40', ...env });
console.log('test:emu: the suite on CUDA again, in reverse order, guard pages before allocations (CUDA_EMU_ORDER=reverse CUDA_EMU_GUARD=before)');
run(process.execPath, [path.join(root, 'node_modules', 'uvu', 'bin.js'), '-r', 'tsx/cjs', 'test', '.test.ts$'], {
  ...env,
  REPMLP_TEST_DEVICE: 'cuda',
  ...SECOND,
});
