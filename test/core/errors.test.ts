// Every error the library throws is a RepmlpError: the addon's own errors (plain JS errors
// whose messages start with the op's name) are rethrown as RepmlpErrors with the same message
// by lib/native.ts, whether a binding is called directly or through the public API; the ONNX
// graph builder's checks throw them too; and a Tensor method whose module was not loaded
// says which module to load.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { empty, relu, RepmlpError, scope, tensor } from '../../lib/index';
import { native } from '../../lib/native';
import { GraphBuilder } from '../../lib/onnx/graph';
import { assertNoLeak, DEVICE } from '../helpers';

/** Asserts that fn throws a RepmlpError whose message matches re. */
function assertRepmlpError(fn: () => unknown, re: RegExp): void {
  try {
    fn();
  } catch (e) {
    assert.instance(e, RepmlpError, `${String(e)} is a RepmlpError`);
    assert.match((e as Error).message, re);
    return;
  }
  assert.unreachable(`expected a RepmlpError matching ${re}`);
}

test('native: a binding given a too-small storage throws a RepmlpError naming the op', () => {
  assertNoLeak('native errors', () => {
    const small = new native.Storage(DEVICE, 'float32', 2), big = new native.Storage(DEVICE, 'float32', 8);
    try {
      assertRepmlpError(() => native.relu_forward(small, big, 8), /^relu_forward: expected a storage of at least 8 elements for out/);
      assertRepmlpError(() => native.copy_storage(small, 0, big, 0, 8), /^copy_storage: /);
      // The Storage class: its constructor and methods, and instances still of the addon's class.
      assertRepmlpError(() => new native.Storage('gpu' as 'cuda', 'float32', 1), /^Storage: expected 'cpu' or 'cuda' for device but received 'gpu'/);
      assertRepmlpError(() => small.read(1, 5), /^Storage\.read: expected an integer range inside \[0, 2\)/);
      assert.ok(small instanceof native.Storage);
      assert.is(small.numel, 2);
    } finally {
      small.dispose();
      big.dispose();
    }
  });
});

test('native: an op through the public API surfaces the native refusal as a RepmlpError', () => {
  // The tensor is live but its storage was freed behind its back: only the kernel can tell.
  // (In a scope, which frees the output the op allocated before the kernel refused.)
  scope(() => {
    const x = tensor([1, -2, 3], undefined, { device: DEVICE });
    x.storage.dispose();
    assertRepmlpError(() => relu(x), /^relu_forward: expected a live storage for inp but received a disposed one$/);
  });
  // The JS checks accept any non-negative integer size; the addon refuses more than 1e12 elements.
  assertRepmlpError(() => empty([1e13], { device: DEVICE }), /^Storage: expected an integer in \[0, 1e12\] for numel but received 10000000000000/);
});

test('onnx graph builder: mismatched initializers and taken names are RepmlpErrors', () => {
  const g = new GraphBuilder();
  assertRepmlpError(() => g.float('w', [2, 2], new Float32Array(3)), /^onnx graph: expected 4 values for dims \[2, 2\] for initializer 'w' but received 3$/);
  g.reserve('input');
  assertRepmlpError(() => g.reserve('input'), /^onnx graph: expected a name not used yet for a graph input or output but received 'input', which is taken$/);
});

test('Tensor: a method whose module was not loaded names the module; loading it installs the method', () => {
  // A fresh process that loads lib/tensor.ts alone (this one has loaded everything).
  const script = `
    const { Tensor } = require('./lib/tensor');
    const t = Tensor.empty([2, 3]);
    const errors = [() => t.reshape(3, 2), () => t.backward()].map((f) => {
      try { f(); return 'no error'; } catch (e) { return e.name + ': ' + e.message; }
    });
    require('./lib/ops/views');
    console.log(JSON.stringify({ errors, reshaped: t.reshape(3, 2).shape }));
  `;
  const r = spawnSync(process.execPath, ['-r', 'tsx/cjs', '-e', script], { encoding: 'utf8', cwd: path.join(__dirname, '..', '..') });
  assert.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { errors: string[]; reshaped: number[] };
  assert.equal(out.errors, [
    'RepmlpError: Tensor.reshape: expected lib/ops/views.ts to be loaded for this method but received a call before it was (import the package index, which loads it)',
    'RepmlpError: Tensor.backward: expected lib/autograd.ts to be loaded for this method but received a call before it was (import the package index, which loads it)',
  ]);
  assert.equal(out.reshaped, [3, 2]);
});

test.run();
