#!/usr/bin/env node
// `npm run test:gpu`: runs the whole uvu suite with tensors on CUDA (REPMLP_TEST_DEVICE=cuda),
// where every op is also checked against its CPU kernel. Without a usable GPU it prints one
// skip line and exits 0, so `npm test` on the CPU is unaffected.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.join(__dirname, '..');
const addon = require('node-gyp-build')(root);
const rt = addon.runtimeInfo();
if (!rt.cudaCompiled || rt.cudaDevices === 0) {
  console.log(`test:gpu: skipped: no usable CUDA device (${rt.cudaCompiled ? rt.cudaReason : 'this build has no CUDA support'})`);
  process.exit(0);
}
const uvu = path.join(root, 'node_modules', 'uvu', 'bin.js');
const r = spawnSync(process.execPath, [uvu, '-r', 'tsx/cjs', 'test', '.test.ts$'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, REPMLP_TEST_DEVICE: 'cuda' },
});
process.exit(r.status ?? 1);
