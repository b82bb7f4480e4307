// A full disk, simulated by patching the node:fs module object (the one every module of
// the package calls through). Writes to files whose path matches `match` (default:
// temporary files, /\.tmp$/) succeed until `after` bytes in total; the write that crosses
// the limit stores only the bytes up to it (a short write), and every later one throws
// ENOSPC as the kernel does. `code` may be 'EDQUOT' for a quota.
//
// In a test: `const undo = require('./enospc-preload.cjs').install({ after: 100 })`.
// For a whole process: `node -r test/io/enospc-preload.cjs ...` with REPMLP_TEST_ENOSPC_AFTER
// (bytes) and optionally REPMLP_TEST_ENOSPC_MATCH (a regular expression) in the environment.
'use strict';
const fs = require('node:fs');

function fullDiskError(code) {
  const e = new Error(code === 'EDQUOT' ? 'EDQUOT: disk quota exceeded, write' : 'ENOSPC: no space left on device, write');
  e.code = code;
  e.errno = code === 'EDQUOT' ? -122 : -28;
  e.syscall = 'write';
  return e;
}

/** Patches fs.openSync / closeSync / writeSync; returns a function that restores them. */
function install({ after = 0, match = /\.tmp$/, code = 'ENOSPC' } = {}) {
  const { openSync, closeSync, writeSync } = fs;
  const watched = new Set();
  let written = 0;
  fs.openSync = function (p, ...rest) {
    const fd = openSync.call(this, p, ...rest);
    if (match.test(String(p))) watched.add(fd);
    return fd;
  };
  fs.closeSync = function (fd) {
    watched.delete(fd);
    return closeSync.call(this, fd);
  };
  fs.writeSync = function (fd, buffer, ...rest) {
    if (!watched.has(fd)) return writeSync.call(this, fd, buffer, ...rest);
    const isString = typeof buffer === 'string';
    const bytes = isString ? Buffer.from(buffer, typeof rest[1] === 'string' ? rest[1] : 'utf8') : buffer;
    const offset = isString ? 0 : rest[0] ?? 0;
    const length = isString ? bytes.length : rest[1] ?? bytes.byteLength - offset;
    const room = after - written;
    if (room <= 0) throw fullDiskError(code);
    const done = writeSync.call(this, fd, bytes, offset, Math.min(room, length));
    written += done;
    return done;
  };
  return () => {
    fs.openSync = openSync;
    fs.closeSync = closeSync;
    fs.writeSync = writeSync;
  };
}

module.exports = { install };

if (process.env.REPMLP_TEST_ENOSPC_AFTER !== undefined) {
  install({
    after: Number(process.env.REPMLP_TEST_ENOSPC_AFTER),
    match: new RegExp(process.env.REPMLP_TEST_ENOSPC_MATCH || '\\.tmp$'),
    code: process.env.REPMLP_TEST_ENOSPC_CODE || 'ENOSPC',
  });
}
