#!/usr/bin/env node
// npm's install hook: uses a prebuilt binary from prebuilds/ when one matches this platform
// (node-gyp-build finds it), and builds from source with cmake-js only when none does.
// REPMLP_BUILD_FROM_SOURCE=1 forces the source build.
'use strict';
const path = require('node:path');

const root = path.join(__dirname, '..');
if (process.env.REPMLP_BUILD_FROM_SOURCE !== '1') {
  try {
    const file = require('node-gyp-build').resolve(root);
    console.log(`repmlp: using ${path.relative(root, file)}`);
    process.exit(0);
  } catch {
    console.log('repmlp: no prebuilt binary for this platform; building from source with cmake-js');
  }
}
require('./build-native.cjs');
