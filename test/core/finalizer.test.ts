import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

// The FinalizationRegistry frees storages of tensors that were never disposed once they are
// garbage collected. Runs in a child process started with --expose-gc.
test('finalizer: forgotten tensors are freed after garbage collection', () => {
  const script = `
    const r = require(${JSON.stringify(path.join(__dirname, '..', '..', 'lib', 'index.ts'))});
    const before = r.liveStorages().cpuBuffers;
    (function () { for (let i = 0; i < 200; i++) r.tensor(new Float32Array(1000), [1000]); })();
    const during = r.liveStorages().cpuBuffers;
    (async () => {
      for (let i = 0; i < 20 && r.liveStorages().cpuBuffers > before; i++) {
        global.gc();
        await new Promise((res) => setTimeout(res, 10));
      }
      console.log(JSON.stringify({ before, during, after: r.liveStorages().cpuBuffers }));
    })();`;
  const res = spawnSync(process.execPath, ['--expose-gc', '-r', 'tsx/cjs', '-e', script], { encoding: 'utf8' });
  assert.is(res.status, 0, res.stderr);
  const { before, during, after } = JSON.parse(res.stdout.trim().split('\n').pop()!);
  assert.is(during, before + 200);
  assert.is(after, before);
});

test.run();
