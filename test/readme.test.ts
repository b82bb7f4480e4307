import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// The README's example must run as written (with 'repmlp' pointing at this checkout).
test('README example runs and its loss falls', () => {
  const root = path.join(__dirname, '..');
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  const m = /```ts\n([\s\S]*?)```/.exec(readme);
  assert.ok(m, 'README has a ts example');
  const code = m![1].replace("from 'repmlp'", `from ${JSON.stringify(path.join(root, 'lib', 'index.ts'))}`);
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'repmlp-readme-')), 'example.ts');
  fs.writeFileSync(file, code);
  const r = spawnSync(process.execPath, ['-r', 'tsx/cjs', file], { encoding: 'utf8', cwd: root });
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
  assert.is(r.status, 0, r.stderr);
  const losses = [...r.stdout.matchAll(/loss (\d+\.\d+)/g)].map((x) => Number(x[1]));
  assert.is(losses.length, 4, r.stdout);
  assert.ok(losses[3] < losses[0], r.stdout);
});

test.run();
