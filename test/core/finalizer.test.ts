import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

// Storages of tensors that were never disposed are freed once the collector takes them,
// without the program yielding to the event loop: the storage table's weak references are
// cleared during the collection and liveStorages() sweeps them. Runs in a child process
// started with --expose-gc. The tensors are held until the collection, so that one the
// allocations themselves may start (when the young generation fills) cannot free them early.
test('collected tensors: freed after garbage collection, in the same synchronous run', () => {
  const script = `
    const r = require(${JSON.stringify(path.join(__dirname, '..', '..', 'lib', 'index.ts'))});
    const before = r.liveStorages().cpuBuffers;
    let held = [];
    (function () { for (let i = 0; i < 200; i++) held.push(r.tensor(new Float32Array(1000), [1000])); })();
    const during = r.liveStorages().cpuBuffers;
    held = null;
    global.gc();
    console.log(JSON.stringify({ before, during, after: r.liveStorages().cpuBuffers }));`;
  const res = spawnSync(process.execPath, ['--expose-gc', '-r', 'tsx/cjs', '-e', script], { encoding: 'utf8' });
  assert.is(res.status, 0, res.stderr);
  const { before, during, after } = JSON.parse(res.stdout.trim().split('\n').pop()!);
  assert.is(during, before + 200);
  assert.is(after, before);
});

test.run();
