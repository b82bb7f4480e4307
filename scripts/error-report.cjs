#!/usr/bin/env node
// Runs the test suite with REPMLP_ERROR_REPORT set and prints, per op and check, the worst
// relative error (max |a - e| / max |e|) seen: against PyTorch goldens ("vs torch") and against
// the float64 references. Usage: node scripts/error-report.cjs [--device cuda]
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');
const file = path.join(os.tmpdir(), `repmlp-errors-${process.pid}.jsonl`);
const env = { ...process.env, REPMLP_ERROR_REPORT: file };
if (process.argv.includes('--device') && process.argv[process.argv.indexOf('--device') + 1] === 'cuda') env.REPMLP_TEST_DEVICE = 'cuda';
const t0 = Date.now();
const r = spawnSync(process.execPath, [path.join(root, 'node_modules', 'uvu', 'bin.js'), '-r', 'tsx/cjs', 'test', '.test.ts$'], { cwd: root, env, encoding: 'utf8' });
const seconds = (Date.now() - t0) / 1000;
if (r.status !== 0) {
  process.stdout.write(r.stdout + r.stderr);
  process.exit(r.status ?? 1);
}
const worst = new Map();
for (const line of fs.readFileSync(file, 'utf8').trim().split('\n')) {
  const { name, rel, maxAbs } = JSON.parse(line);
  const key = name.replace(/\[\d+\]/g, (m) => m); // keep input indices
  const prev = worst.get(key);
  if (!prev || rel > prev.rel) worst.set(key, { rel, maxAbs });
}
fs.rmSync(file, { force: true });
const rows = [...worst.entries()].sort(([a], [b]) => a.localeCompare(b));
const w = Math.max(...rows.map(([k]) => k.length));
for (const [k, v] of rows) console.log(`${k.padEnd(w)}  rel ${v.rel.toExponential(2)}  abs ${v.maxAbs.toExponential(2)}`);
const summary = r.stdout.match(/Total:\s+(\d+)[\s\S]*Passed:\s+(\d+)/);
console.log(`\n${summary ? `${summary[2]} of ${summary[1]} tests passed` : ''} in ${seconds.toFixed(1)} s`);
