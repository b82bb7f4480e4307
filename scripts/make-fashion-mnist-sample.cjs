#!/usr/bin/env node
// Writes data/fashion-mnist-sample/: the first 2000 training and 500 test images and labels of
// Fashion-MNIST as gzipped IDX files, cut from the Debian package dataset-fashion-mnist.
// Usage: node scripts/make-fashion-mnist-sample.cjs [source dir]
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');

const src = process.argv[2] ?? process.env.REPMLP_FASHION_MNIST ?? '/usr/share/datasets/fashion-mnist';
const out = path.join(__dirname, '..', 'data', 'fashion-mnist-sample');
const counts = { train: 2000, t10k: 500 };

function read(base) {
  for (const name of [base, base + '.gz']) {
    const p = path.join(src, name);
    if (fs.existsSync(p)) {
      const raw = fs.readFileSync(p);
      return raw[0] === 0x1f && raw[1] === 0x8b ? zlib.gunzipSync(raw) : raw;
    }
  }
  throw new Error(`${src}: no ${base}(.gz); install it with 'apt-get install dataset-fashion-mnist'`);
}

// The first `count` records of an IDX file, with its first dimension rewritten.
function head(bytes, magic, count) {
  const ndim = magic & 0xff;
  if (bytes.readUInt32BE(0) !== magic) throw new Error(`bad IDX magic 0x${bytes.readUInt32BE(0).toString(16)}`);
  let per = 1;
  for (let i = 1; i < ndim; i++) per *= bytes.readUInt32BE(4 + 4 * i);
  const n = bytes.readUInt32BE(4);
  if (n < count) throw new Error(`only ${n} records, need ${count}`);
  const hdr = 4 + 4 * ndim;
  const res = Buffer.from(bytes.subarray(0, hdr + count * per));
  res.writeUInt32BE(count, 4);
  return res;
}

fs.mkdirSync(out, { recursive: true });
for (const [prefix, count] of Object.entries(counts)) {
  for (const [kind, magic] of [['images-idx3', 0x803], ['labels-idx1', 0x801]]) {
    const base = `${prefix}-${kind}-ubyte`;
    const gz = zlib.gzipSync(head(read(base), magic, count), { level: 9 });
    fs.writeFileSync(path.join(out, base + '.gz'), gz);
    console.log(`${base}.gz: ${count} records, ${gz.length} bytes`);
  }
}
