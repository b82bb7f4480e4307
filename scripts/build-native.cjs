#!/usr/bin/env node
// Builds the native addon from source with cmake-js (build/Release/repmlp.node).
// npm's install hook calls it only when node-gyp-build finds no prebuild; prebuildify
// calls it through --node-gyp. Environment: REPMLP_CUDA=0 builds the CPU backend only;
// REPMLP_CUDA_ARCHS="75;80;..." picks the CUDA architectures; REPMLP_WERROR=1 (CI) makes
// compiler warnings errors, ptxas's register spills and local memory included.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.join(__dirname, '..');
const args = ['--directory', root];
// REPMLP_CUDA_EMULATOR=1 (tests only, see test/cuda-emu): the CUDA backend on the CPU
// emulator, built in build-emu/ so that build/ keeps the real addon.
const emulator = process.env.REPMLP_CUDA_EMULATOR === '1';
if (emulator) args.push('--out', path.join(root, 'build-emu'), '--CDREPMLP_CUDA_EMULATOR=ON');
// Always explicit: the CMake cache would otherwise keep the previous build's choice.
args.push(`--CDREPMLP_CUDA=${process.env.REPMLP_CUDA === '0' || emulator ? 'OFF' : 'ON'}`);
args.push(`--CDREPMLP_WERROR=${process.env.REPMLP_WERROR === '1' ? 'ON' : 'OFF'}`);
if (process.env.REPMLP_CUDA_ARCHS) args.push(`--CDREPMLP_CUDA_ARCHS=${process.env.REPMLP_CUDA_ARCHS}`);
// prebuildify passes node-gyp style flags (rebuild, --target=<node version>, --arch=...,
// --devdir=..., --release). Only --arch carries over: cmake-js's --target names a CMake
// target, and the addon uses N-API only, so one build serves every Node.js version.
for (const a of process.argv.slice(2)) {
  const m = /^--arch=(.+)$/.exec(a);
  if (m) args.push('--arch', m[1]);
}
// cmake-js is a devDependency: an installed package that has to build from source uses the
// one on PATH (npm install -g cmake-js).
let cmd = 'cmake-js';
let pre = [];
try {
  pre = [require.resolve('cmake-js/bin/cmake-js')];
  cmd = process.execPath;
} catch {
  if (spawnSync('cmake-js', ['--version'], { stdio: 'ignore' }).status !== 0) {
    console.error('repmlp: building from source needs cmake-js (npm install -g cmake-js), cmake and a C++17 compiler');
    process.exit(1);
  }
}
// Configure every time (cheap) so a changed REPMLP_CUDA or architecture list takes effect,
// then build incrementally.
for (const step of ['configure', 'build']) {
  const r = spawnSync(cmd, [...pre, step, ...args], { stdio: 'inherit', cwd: root });
  if (r.error) {
    console.error(`repmlp: could not run cmake-js: ${r.error.message}`);
    process.exit(1);
  }
  if (r.status !== 0) process.exit(r.status ?? 1);
}
