#!/usr/bin/env node
// Release prebuild: prebuildify drives the cmake-js build (scripts/build-native.cjs stands in
// for node-gyp), strips the result and writes prebuilds/<platform>-<arch>/repmlp.glibc.node,
// which node-gyp-build loads on any Node.js >= 20 (N-API 8) with glibc (the libc tag keeps
// musl systems such as Alpine off it: they build from source).
// REPMLP_CUDA_ARCHS overrides the CUDA architectures (default below: SASS for each, PTX for
// the last, see REPMLP_CUDA_PTX_LAST in CMakeLists.txt); REPMLP_CUDA=0 builds a CPU-only prebuild.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const RELEASE_ARCHS = '75;80;86;89;90;100;120';
const root = path.join(__dirname, '..');
const env = { ...process.env };
env.REPMLP_CUDA_ARCHS = env.REPMLP_CUDA_ARCHS || RELEASE_ARCHS;

if (env.REPMLP_CUDA !== '0') {
  const nvcc = spawnSync('nvcc', ['--version'], { encoding: 'utf8' });
  if (nvcc.status !== 0) {
    console.error('repmlp prebuild: nvcc not found; a release prebuild needs the CUDA backend (REPMLP_CUDA=0 for a CPU-only one)');
    process.exit(1);
  }
  console.log(`repmlp prebuild: CUDA architectures ${env.REPMLP_CUDA_ARCHS}`);
}

const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
// A fresh build directory: the prebuild must not pick up objects of another configuration.
fs.rmSync(path.join(root, 'build'), { recursive: true, force: true });
fs.rmSync(dir, { recursive: true, force: true });
const nodeGyp = path.join(__dirname, 'build-native.cjs');
fs.chmodSync(nodeGyp, 0o755);
const bin = require.resolve('prebuildify/bin.js');
const t0 = Date.now();
const r = spawnSync(process.execPath, [bin, '--napi', '--strip', '--tag-libc', '--node-gyp', nodeGyp], { stdio: 'inherit', cwd: root, env });
if (r.status !== 0) process.exit(r.status ?? 1);

const resolved = require('node-gyp-build').resolve(root);
if (path.dirname(resolved) !== dir) {
  console.error(`repmlp prebuild: node-gyp-build resolves ${resolved}, not the prebuild in ${dir}`);
  process.exit(1);
}
const size = fs.statSync(resolved).size;
console.log(`repmlp prebuild: ${path.relative(root, resolved)} (${(size / 1048576).toFixed(1)} MiB) in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
