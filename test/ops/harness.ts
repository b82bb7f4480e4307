// The shapes the op tests share: an op against its PyTorch goldens (forward and every input
// gradient), random device tensors for a run, the leak check of a run inside a scope, and
// NaN propagation.
import * as assert from 'uvu/assert';
import { ones, randn, scope, tensor, type Tensor } from '../../lib/index';
import type { HostTensor } from '../../lib/io/safetensors';
import type { Rng } from '../../lib/rng';
import { assertClose, assertNoLeak, DEVICE, fromHost } from '../helpers';

/**
 * Where an input's expected gradient is: the fixture key's suffix, which also names it in the
 * assertion (as in 'dx'), or [suffix, name] where the two differ.
 */
export type GoldenGrad = string | [key: string, name: string];

export interface TorchCase {
  /** the golden tensors of one fixture group */
  golden: (key: string) => HostTensor;
  /** the case's fixture keys are `${prefix}.<suffix>` */
  prefix: string;
  /** what every assertion of the case is called by, before 'forward', 'dx', ... */
  name: string;
  /** input suffix -> its gradient, in the order they are compared */
  grads: Record<string, GoldenGrad>;
  /** suffix of the expected output (default 'y') */
  out?: string;
  /** suffix of the output gradient given to backward (default 'w') */
  seed?: string;
}

/**
 * Runs op on a case's golden inputs (each requiring a gradient), checks the output against
 * the golden one, runs backward from the golden output gradient and checks every input's
 * gradient, with assertClose's default tolerances; then frees the tensors it made.
 */
export function assertMatchesTorch(c: TorchCase, op: (inputs: Record<string, Tensor>) => Tensor): void {
  const key = (suffix: string) => c.golden(`${c.prefix}.${suffix}`);
  const inputs: Record<string, Tensor> = {};
  for (const k of Object.keys(c.grads)) inputs[k] = fromHost(key(k), true);
  const y = op(inputs);
  assertClose(`${c.name} forward vs torch`, y, key(c.out ?? 'y'));
  const seed = fromHost(key(c.seed ?? 'w'));
  y.backward(seed);
  for (const [k, g] of Object.entries(c.grads)) {
    const [suffix, name] = typeof g === 'string' ? [g, g] : g;
    assertClose(`${c.name} ${name} vs torch`, inputs[k].grad!, key(suffix));
  }
  for (const t of [...Object.values(inputs), y, seed]) t.dispose();
}

/** Tensors on DEVICE of standard normal samples drawn from rng in turn, each requiring a gradient. */
export function randomTensors(rng: Rng, ...shapes: number[][]): Tensor[] {
  return shapes.map((shape) => randn(shape, rng, { device: DEVICE }).requiresGrad_());
}

/** A tensor of ones on DEVICE, for an output gradient. */
export function onesOn(shape: readonly number[]): Tensor {
  return ones(shape, { device: DEVICE });
}

/** Runs fn in a scope `times` times and asserts that no native storage outlives it. */
export function assertNoLeakInScope(name: string, fn: () => void, times = 1): void {
  assertNoLeak(name, () => scope(fn), times);
}

/** f(NaN) and its gradient are NaN, f(1) and its gradient are not (as in PyTorch). */
export function assertNaNPropagates(f: (x: Tensor) => Tensor): void {
  scope(() => {
    const x = tensor([NaN, 1], [2], { device: DEVICE }).requiresGrad_();
    const y = f(x);
    y.backward(tensor([1, 1], [2], { device: DEVICE }));
    assert.equal(Array.from(y.toFloat32Array()).map(Number.isNaN), [true, false]);
    assert.equal(Array.from(x.grad!.toFloat32Array()).map(Number.isNaN), [true, false]);
  });
}
