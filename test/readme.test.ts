import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// The README's example must run as written (with 'repmlp' pointing at this checkout, and
// sharp, its dependency, at the checkout's).
const root = path.join(__dirname, '..');
const examples = [...fs.readFileSync(path.join(root, 'README.md'), 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);

function run(code: string) {
  code = code.replace("from 'repmlp'", `from ${JSON.stringify(path.join(root, 'lib', 'index.ts'))}`).replace("from 'sharp'", `from ${JSON.stringify(require.resolve('sharp'))}`);
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'repmlp-readme-')), 'example.ts');
  fs.writeFileSync(file, code);
  const r = spawnSync(process.execPath, ['-r', 'tsx/cjs', file], { encoding: 'utf8', cwd: root });
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
  assert.is(r.status, 0, r.stderr);
  return r;
}

test('README: the training example runs and its loss falls', () => {
  assert.ok(examples.length >= 2, 'README has at least two ts examples');
  const r = run(examples[0]);
  const losses = [...r.stdout.matchAll(/loss (\d+\.\d+)/g)].map((x) => Number(x[1]));
  assert.is(losses.length, 4, r.stdout);
  assert.ok(losses[3] < losses[0], r.stdout);
});

test('README: the RepMLPNet example trains a step, injects locality and saves', () => {
  const r = run(examples[1]);
  const m = /max \|diff\|: (\S+)/.exec(r.stdout);
  assert.ok(m, r.stdout);
  assert.ok(Number(m![1]) < 1e-4, r.stdout);
});

test('README: the ONNX example exports the small model', () => {
  const onnx = examples.find((e) => e.includes('exportOnnx'));
  assert.ok(onnx, 'README has the ONNX example');
  const r = run(onnx!);
  assert.match(r.stdout, /^\d+ bytes, \d+ nodes: input \[batch,1,32,32\] -> logits \[batch,10\]$/m);
});

test('README: every other ts example runs', () => {
  for (const code of examples.slice(2).filter((e) => !e.includes('exportOnnx'))) run(code);
});

test.run();
