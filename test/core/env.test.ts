// The REPMLP_* environment variables the addon reads at load are parsed strictly: a set but
// malformed value fails require() with an error naming the variable (it used to be ignored,
// or half read: atoi("3abc") = 3). Each case loads the addon in a fresh process.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const root = path.join(__dirname, '..', '..');
const script =
  "const a = process.env.REPMLP_ADDON ? require(require('path').resolve(process.env.REPMLP_ADDON)) : require('node-gyp-build')(process.cwd());" +
  'process.stdout.write(JSON.stringify(a.runtimeInfo()))';

/** Loads the addon with env set; returns its runtime info, or the load error's message. */
interface Loaded {
  threads: number;
  cpuIsa: string;
  cpuIsaSupported: string;
}

function load(env: Record<string, string>): Loaded | string {
  const base: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['REPMLP_NUM_THREADS', 'REPMLP_CPU_CACHE_MB', 'REPMLP_POISON', 'REPMLP_TF32', 'REPMLP_CPU_ISA']) delete base[k];
  const r = spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8', env: { ...base, ...env } });
  if (r.status === 0) return JSON.parse(r.stdout) as Loaded;
  const m = /Error: (.*)/.exec(r.stderr);
  return m ? m[1] : r.stderr;
}

test('REPMLP_NUM_THREADS: a positive integer up to 1024, anything else fails the load', () => {
  assert.is((load({ REPMLP_NUM_THREADS: '3' }) as Loaded).threads, 3);
  assert.equal((load({ REPMLP_NUM_THREADS: '' }) as Loaded).threads > 0, true, 'empty means unset');
  for (const bad of ['abc', '0', '-1', '3abc', ' 2', '2.5', '1025', '99999999999999999999'])
    assert.is(load({ REPMLP_NUM_THREADS: bad }), `REPMLP_NUM_THREADS: expected a positive integer in [1, 1024] but received '${bad}'`);
});

test('REPMLP_CPU_CACHE_MB, REPMLP_POISON and REPMLP_TF32 are strict too', () => {
  assert.equal(typeof load({ REPMLP_CPU_CACHE_MB: '0', REPMLP_POISON: '1', REPMLP_TF32: '0' }), 'object');
  for (const bad of ['abc', '-1', '64M'])
    assert.is(load({ REPMLP_CPU_CACHE_MB: bad }), `REPMLP_CPU_CACHE_MB: expected a number of megabytes in [0, 16777216] but received '${bad}'`);
  for (const bad of ['yes', 'true', '2'])
    assert.is(load({ REPMLP_POISON: bad }), `REPMLP_POISON: expected 0 or 1 but received '${bad}'`);
  assert.is(load({ REPMLP_TF32: 'on' }), "REPMLP_TF32: expected 0 or 1 but received 'on'");
});

test('REPMLP_CPU_ISA: avx2, or avx512 where the CPU has it; anything else fails the load', () => {
  const plain = load({}) as Loaded;
  assert.is(plain.cpuIsa, plain.cpuIsaSupported, 'the default is the best the CPU has');
  if (plain.cpuIsaSupported !== 'baseline') assert.is((load({ REPMLP_CPU_ISA: 'avx2' }) as Loaded).cpuIsa, 'avx2');
  if (plain.cpuIsaSupported === 'avx512') assert.is((load({ REPMLP_CPU_ISA: 'avx512' }) as Loaded).cpuIsa, 'avx512');
  else assert.is(load({ REPMLP_CPU_ISA: 'avx512' }), `REPMLP_CPU_ISA: this CPU supports at most ${plain.cpuIsaSupported}, not 'avx512'`);
  for (const bad of ['AVX2', 'sse', '1'])
    assert.is(load({ REPMLP_CPU_ISA: bad }), `REPMLP_CPU_ISA: expected 'avx512' or 'avx2' but received '${bad}'`);
});

test.run();
