// Shared test harness: the device under test, golden fixtures from PyTorch, float64
// reference gradient checks by finite differences, closeness assertions that print the
// worst difference, and a live-buffer leak check.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import * as assert from 'uvu/assert';
import { cpuIsas, liveStorages as liveStoragesNow, setCpuIsa, setPoison, tensor, Tensor, type Device } from '../lib/index';
import { readSafetensors, type HostTensor } from '../lib/io/safetensors';
import { Rng } from '../lib/rng';

// Every new tensor starts as NaN (int64: -1) in tests, so a kernel that leaves part of its
// output unwritten fails the comparisons instead of passing on leftover values.
setPoison(true);

/** 'cpu' for `npm test`; 'cuda' under `npm run test:gpu`. */
export const DEVICE: Device = process.env.REPMLP_TEST_DEVICE === 'cuda' ? 'cuda' : 'cpu';

/**
 * Runs fn once per CPU GEMM kernel this CPU can run (AVX-512 and AVX2 on an AVX-512 CPU, one
 * otherwise), with the kernel's name for messages, and restores the default after.
 */
export function forEachCpuIsa(fn: (isa: string) => void): void {
  const isas = cpuIsas();
  try {
    for (const isa of isas) {
      if (isa !== 'baseline') setCpuIsa(isa);
      fn(isa);
    }
  } finally {
    if (isas[0] !== 'baseline') setCpuIsa(isas[0]);
  }
}

const fixtureCache = new Map<string, Map<string, HostTensor>>();

function fixtureTensors(group: string): Map<string, HostTensor> {
  let m = fixtureCache.get(group);
  if (!m) {
    m = readSafetensors(path.join(__dirname, 'fixtures', `${group}.safetensors`));
    fixtureCache.set(group, m);
  }
  return m;
}

/** The entries '<prefix>.<key>' of a fixture as a state dict keyed '<key>', in the file's order. */
export function fixtureSection(group: string, prefix: string): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const [k, v] of fixtureTensors(group)) if (k.startsWith(`${prefix}.`)) out.set(k.slice(prefix.length + 1), v);
  return out;
}

/** Golden tensors written by test/fixtures/gen_<group>.py. */
export function fixture(group: string): (key: string) => HostTensor {
  const tensors = fixtureTensors(group);
  return (key) => {
    const t = tensors.get(key);
    if (!t) throw new Error(`fixture ${group}: no tensor '${key}' (regenerate with npm run fixtures)`);
    return t;
  };
}

/** A tensor on DEVICE from a fixture entry. */
export function fromHost(h: HostTensor, requiresGrad = false): Tensor {
  const t = tensor(h.data, h.shape, { device: DEVICE, dtype: h.dtype });
  return requiresGrad ? t.requiresGrad_() : t;
}

export interface Diff {
  maxAbs: number;
  /** max |a - e| / max |e|: the error relative to the expected tensor's scale */
  rel: number;
}

export function diff(actual: ArrayLike<number>, expected: ArrayLike<number>): Diff {
  assert.is(actual.length, expected.length, 'length');
  let maxAbs = 0, scale = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= maxAbs)) maxAbs = Number.isNaN(d) ? Infinity : Math.max(maxAbs, d);
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return { maxAbs, rel: maxAbs / Math.max(scale, 1e-12) };
}

const reportFile = process.env.REPMLP_ERROR_REPORT;

/** Asserts actual ≈ expected (max |a-e| <= atol + rtol * max|e|) and logs the error. */
export function assertClose(
  name: string,
  actual: Tensor | ArrayLike<number>,
  expected: Tensor | HostTensor | ArrayLike<number>,
  tol: { rtol?: number; atol?: number } = {},
): Diff {
  const a = actual instanceof Tensor ? actual.toFloat32Array() : actual;
  const e =
    expected instanceof Tensor
      ? expected.toFloat32Array()
      : 'data' in (expected as HostTensor) && 'shape' in (expected as HostTensor)
        ? Float32Array.from((expected as HostTensor).data as ArrayLike<number>, Number)
        : (expected as ArrayLike<number>);
  if (actual instanceof Tensor && 'shape' in (expected as object)) {
    const es = (expected as { shape: readonly number[] }).shape;
    assert.equal([...actual.shape], [...es], `${name}: shape`);
  }
  const d = diff(a, e);
  const rtol = tol.rtol ?? 1e-4, atol = tol.atol ?? 1e-6;
  let scale = 0;
  for (let i = 0; i < e.length; i++) scale = Math.max(scale, Math.abs(e[i]));
  if (reportFile) fs.appendFileSync(reportFile, JSON.stringify({ name, device: DEVICE, ...d }) + '\n');
  assert.ok(d.maxAbs <= atol + rtol * scale, `${name}: max abs diff ${d.maxAbs.toExponential(3)} (rel ${d.rel.toExponential(3)}) exceeds atol ${atol} + rtol ${rtol} * ${scale.toExponential(3)}`);
  return d;
}

export interface GradcheckInput {
  shape: number[];
  data: Float64Array; // float32-representable values
  requiresGrad?: boolean; // default true
}

/** Random float32-representable inputs. */
export function randomInput(shape: number[], rng: Rng, scale = 1, requiresGrad = true): GradcheckInput {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.fround(scale * rng.normal());
  return { shape, data, requiresGrad };
}

/**
 * Checks an op against a float64 reference: the forward output, and the analytic
 * gradient of sum(out * w) (w random) against central finite differences of the
 * reference in float64 (on up to `samples` elements per input).
 */
export function gradcheck(opts: {
  name: string;
  inputs: GradcheckInput[];
  op: (xs: Tensor[]) => Tensor;
  ref: (xs: Float64Array[]) => Float64Array;
  rng: Rng;
  eps?: number;
  samples?: number;
  tol?: { rtol?: number; atol?: number };
  gradTol?: { rtol?: number; atol?: number };
}): void {
  const { name, inputs, rng } = opts;
  const xs = inputs.map((i) => {
    const t = tensor(Float32Array.from(i.data), i.shape, { device: DEVICE });
    return i.requiresGrad === false ? t : t.requiresGrad_();
  });
  const out = opts.op(xs);
  const refOut = opts.ref(inputs.map((i) => i.data));
  assertClose(`${name} forward vs float64`, out, refOut, opts.tol);
  const w = new Float64Array(refOut.length);
  for (let i = 0; i < w.length; i++) w[i] = Math.fround(rng.normal());
  const wt = tensor(Float32Array.from(w), [...out.shape], { device: DEVICE });
  out.backward(wt);
  const f = (data: Float64Array[]) => {
    const o = opts.ref(data);
    let s = 0;
    for (let i = 0; i < o.length; i++) s += o[i] * w[i];
    return s;
  };
  const eps = opts.eps ?? 1e-6;
  inputs.forEach((inp, k) => {
    if (inp.requiresGrad === false) return;
    const g = xs[k].grad;
    assert.ok(g, `${name}: input ${k} got no gradient`);
    const analytic = g!.toFloat32Array();
    const n = inp.data.length;
    const count = Math.min(n, opts.samples ?? 48);
    const idx = count === n ? [...Array(n).keys()] : Array.from({ length: count }, () => rng.int(n));
    const numeric = new Float64Array(count), picked = new Float64Array(count);
    const data = inputs.map((i) => Float64Array.from(i.data));
    idx.forEach((j, c) => {
      const x0 = data[k][j];
      data[k][j] = x0 + eps;
      const fp = f(data);
      data[k][j] = x0 - eps;
      const fm = f(data);
      data[k][j] = x0;
      numeric[c] = (fp - fm) / (2 * eps);
      picked[c] = analytic[j];
    });
    assertClose(`${name} grad[${k}] vs finite differences`, picked, numeric, opts.gradTol ?? { rtol: 1e-3, atol: 1e-5 });
  });
  for (const t of [...xs, out, wt]) t.dispose();
}

/** Runs fn `times` times and asserts the live-buffer count ends where it started. */
// A full garbage collection on demand (the test command does not pass --expose-gc).
v8.setFlagsFromString('--expose-gc');
const collectGarbage = vm.runInNewContext('gc') as () => void;

/**
 * Live native storages once the collector has taken every unreachable tensor: earlier
 * tests' dropped tensors are freed whenever a collection happens to run, so leak checks
 * compare counts taken after a full collection.
 */
export function liveStorages(): ReturnType<typeof liveStoragesNow> {
  // A storage held only through another object's finalizer is freed one collection later, so
  // one collection can leave earlier garbage to be freed in the middle of the next leak check:
  // collect until the count stops changing.
  collectGarbage();
  let now = liveStoragesNow();
  for (let i = 0; i < 8; i++) {
    collectGarbage();
    const next = liveStoragesNow();
    if (next.cpuBuffers === now.cpuBuffers && next.cudaBuffers === now.cudaBuffers) break;
    now = next;
  }
  return now;
}

export function assertNoLeak(name: string, fn: () => void, times = 1): void {
  const before = liveStorages();
  for (let i = 0; i < times; i++) fn();
  const after = liveStorages();
  assert.equal(after, before, `${name}: live storages before/after`);
}

/** Asserts that p rejects with an error whose message matches re. */
export async function assertRejects(p: Promise<unknown>, re: RegExp): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.match((e as Error).message, re);
    return;
  }
  assert.unreachable(`expected a rejection matching ${re}`);
}

/** Asserts fn throws an error whose message matches re. */
export function assertThrows(fn: () => unknown, re: RegExp): void {
  try {
    fn();
  } catch (e) {
    assert.match((e as Error).message, re);
    return;
  }
  assert.unreachable(`expected an error matching ${re}`);
}
