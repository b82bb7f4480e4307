// compileInference against the eager deploy form on the same weights (random BN statistics,
// so a fold that drops or misplaces one shows): presets at batch 1 and several, configs with
// several partitions per map and every share-set count, both partition orders (and the
// default order's warning), a non-square patch, a training-form model (compiled on a copy,
// left as it was), views as inputs, the plan cache, errors, and memory; a 2021 model, which
// runs as its deploy form eagerly.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  cifarPreset, compileInference, flops, memoryStats, noGrad, permute, preset, randn, randomizeBatchNorms, RepMLPCifarNet, RepMLPNet, Rng,
  scope, slice, type RepMLPNetConfig, type Tensor,
} from '../../lib/index';
import { native } from '../../lib/native';
import { assertThrows, DEVICE, diff, liveStorages } from '../helpers';

const TOL = 1e-5; // relative to the largest logit

function build(config: RepMLPNetConfig, seed: number, deploy: boolean): RepMLPNet {
  const rng = new Rng(seed);
  const model = new RepMLPNet({ ...config, deploy: false }, { rng, device: DEVICE });
  randomizeBatchNorms(model, rng, 0.3);
  model.eval();
  return deploy ? model.localityInjection() : model;
}

/** The compiled model's logits against the eager deploy form's, on batches of each size. */
function assertMatches(name: string, config: RepMLPNetConfig, input: number[], batches: number[], seed = 1): void {
  const model = build(config, seed, true);
  const compiled = compileInference(model);
  try {
    for (const n of batches)
      scope(() => {
        const x = randn([n, ...input], new Rng(seed + n), { device: DEVICE });
        const want = noGrad(() => model.forward(x)).toFloat32Array();
        const got = compiled.run(x);
        assert.equal([...got.shape], [n, config.numClasses], `${name}: shape`);
        const d = diff(got.toFloat32Array(), want);
        console.log(`  compileInference ${name}, batch ${n}: relative difference ${d.rel.toExponential(2)}`);
        assert.ok(d.rel <= TOL, `${name} batch ${n}: relative difference ${d.rel}`);
      });
  } finally {
    compiled.dispose();
    model.dispose();
  }
}

// several partitions per map (h != w), S = 1, S = 4 and S = C
const PART: RepMLPNetConfig = {
  inChannels: 3, numClasses: 5, patchSize: 2, numBlocks: [1, 2], channels: [8, 16], hs: [4, 2], ws: [2, 4],
  sharesetsNums: [1, 16], reparamConvK: [1, 3], partitionOrder: 'paper',
};

test('compileInference: small (1 and 3 channels) and cifar at batch 1 and several', () => {
  assertMatches('small 1x32x32', preset('small', { inChannels: 1, numClasses: 10 }), [1, 32, 32], [1, 5]);
  assertMatches('small 3x32x32', preset('small'), [3, 32, 32], [1, 3]);
  assertMatches('cifar', preset('cifar'), [3, 32, 32], [1, 2]);
});

test('compileInference: RepMLPNet-T224 at batch 1 and 2', () => {
  assertMatches('RepMLPNet-T224', preset('RepMLPNet-T224'), [3, 224, 224], [1, 2]);
});

test('compileInference: several partitions per map, S = 1 and S = C, patch 1, no conv branches, reduce 2', () => {
  assertMatches('partitioned', PART, [3, 16, 32], [1, 4]);
  assertMatches('partitioned, larger input', PART, [3, 32, 16], [2]);
  assertMatches('patch 1, S 4', { ...PART, patchSize: 1, hs: [8, 4], ws: [8, 2], sharesetsNums: [4, 4], globalPerceptronReduce: 2 }, [3, 8, 8], [3]);
  assertMatches('one stage, no conv branches', { ...PART, numBlocks: [2], channels: [12], hs: [3], ws: [4], sharesetsNums: [3], reparamConvK: [] }, [3, 6, 8], [2]);
});

test("compileInference: the reference code's partition order and a non-square patch give the eager deploy form's logits", () => {
  const mixed = { ...PART, sharesetsNums: [2, 4] }; // several channel groups and partitions, which that order mixes
  assertMatches('reference order', { ...mixed, partitionOrder: 'reference' }, [3, 16, 32], [1, 3]);
  assertMatches('reference order, larger input', { ...mixed, partitionOrder: 'reference' }, [3, 32, 16], [2]);
  // patch 2 x 1: stage-1 maps of H/2 x W, stage 2 of H/4 x W/2
  const rect: RepMLPNetConfig = { ...mixed, patchSize: [2, 1], hs: [4, 2], ws: [2, 4] };
  assertMatches('patch 2 x 1, one partition per map', rect, [3, 8, 8], [2]);
  assertMatches('patch 2 x 1, paper order', rect, [3, 16, 16], [1, 2]);
  assertMatches('patch 2 x 1, reference order', { ...rect, partitionOrder: 'reference' }, [3, 16, 16], [1, 2]);
  // the orders differ on these maps, so the comparisons above tell them apart
  scope(() => {
    const logits = (order: 'paper' | 'reference') => {
      const model = build({ ...rect, partitionOrder: order }, 1, true);
      const compiled = compileInference(model);
      const out = compiled.run(randn([2, 3, 16, 16], new Rng(3), { device: DEVICE })).toFloat32Array();
      compiled.dispose();
      model.dispose();
      return out;
    };
    assert.ok(diff(logits('reference'), logits('paper')).rel > 1e-3, 'the two orders differ');
  });
  const model = build(rect, 2, true), compiled = compileInference(model);
  scope(() => assertThrows(() => compiled.run(randn([1, 3, 16, 15], new Rng(1), { device: DEVICE })),
    /compileInference.run: expected a height and width divisible by 4 and 2 \(patch 2 x 1, 2 stages\) for x but received shape \(1, 3, 16, 15\)/));
  compiled.dispose();
  model.dispose();
});

test('compileInference: in the default order it warns once, when it first runs with several partitions per map', () => {
  // one stage: an 8 x 4 input is one 4 x 2 partition per map
  const unset: RepMLPNetConfig = { ...PART, numBlocks: [1], channels: [8], hs: [4], ws: [2], sharesetsNums: [2], partitionOrder: undefined };
  const model = build(unset, 5, true);
  const run = (c: { run(x: Tensor): Tensor }, shape: number[]) => scope(() => void c.run(randn(shape, new Rng(6), { device: DEVICE })));
  try {
    const warnings: string[] = [];
    const compiled = compileInference(model, { onWarning: (m) => warnings.push(m) });
    run(compiled, [1, 3, 8, 4]);
    assert.equal(warnings, []);
    run(compiled, [1, 3, 16, 4]);
    run(compiled, [2, 3, 16, 4]);
    run(compiled, [1, 3, 8, 8]);
    compiled.dispose();
    assert.is(warnings.length, 1, 'once');
    assert.match(warnings[0], /^RepMLPNet: the 16 x 4 input cuts stage 1's map into 2 partitions, .*\(--partition-order reference\)/);
    for (const order of ['paper', 'reference'] as const) {
      const chosen = build({ ...unset, partitionOrder: order }, 5, true);
      const quiet: string[] = [];
      const c = compileInference(chosen, { onWarning: (m) => quiet.push(m) });
      run(c, [1, 3, 16, 4]);
      assert.equal(quiet, [], `partitionOrder '${order}' chosen: no warning`);
      c.dispose();
      chosen.dispose();
    }
  } finally {
    model.dispose();
  }
});

test('compileInference: a training-form model is compiled on a copy and left as it was', () => {
  const model = build(PART, 7, false);
  const before = new Map([...model.stateDict()].map(([k, t]) => [k, Array.from(t.data as ArrayLike<number | bigint>, Number)]));
  const compiled = compileInference(model);
  try {
    assert.is(model.deploy, false, 'still the training form');
    for (const [k, t] of model.stateDict()) assert.equal(Array.from(t.data as ArrayLike<number | bigint>, Number), before.get(k), `${k} unchanged`);
    scope(() => {
      const x = randn([3, 3, 16, 32], new Rng(8), { device: DEVICE });
      const eager = noGrad(() => model.forward(x)).toFloat32Array(); // the training form, eval mode
      const d = diff(compiled.run(x).toFloat32Array(), eager);
      assert.ok(d.rel <= 1e-4, `training form vs compiled: ${d.rel}`);
      // later changes to the model do not reach the compiled one
      const first = compiled.run(x).toFloat32Array();
      model.localityInjection();
      model.head.bias!.storage.write(new Float32Array(5).fill(100));
      assert.equal(Array.from(compiled.run(x).toFloat32Array()), Array.from(first));
    });
  } finally {
    compiled.dispose();
    model.dispose();
  }
});

test('compileInference: views as inputs (an offset, a permutation) give the dense input\'s logits', () => {
  const model = build(PART, 9, true);
  const compiled = compileInference(model);
  try {
    scope(() => {
      const big = randn([5, 3, 16, 32], new Rng(10), { device: DEVICE });
      const x = slice(big, 2, 5); // offset 2 images in
      const want = noGrad(() => model.forward(x)).toFloat32Array();
      assert.ok(diff(compiled.run(x).toFloat32Array(), want).rel <= TOL, 'offset view');
      const t = permute(randn([3, 3, 32, 16], new Rng(11), { device: DEVICE }), [0, 1, 3, 2]);
      const want2 = noGrad(() => model.forward(t)).toFloat32Array();
      assert.ok(diff(compiled.run(t).toFloat32Array(), want2).rel <= TOL, 'permuted view');
    });
  } finally {
    compiled.dispose();
    model.dispose();
  }
});

test('compileInference: one plan per input shape, the least recently used dropped beyond maxPlans', () => {
  const model = build(PART, 12, true);
  const compiled = compileInference(model, { maxPlans: 2 });
  try {
    scope(() => {
      const run = (n: number, H: number, W: number) => compiled.run(randn([n, 3, H, W], new Rng(n), { device: DEVICE }));
      run(1, 16, 32);
      run(2, 16, 32);
      run(1, 16, 32);
      assert.equal(compiled.shapes, [[2, 3, 16, 32], [1, 3, 16, 32]]);
      run(1, 32, 16);
      assert.equal(compiled.shapes, [[1, 3, 16, 32], [1, 3, 32, 16]]);
      assert.equal([...run(0, 16, 32).shape], [0, 5], 'an empty batch');
    });
  } finally {
    compiled.dispose();
    model.dispose();
  }
});

test('compileInference: a 2021 model runs as its deploy form, on its own copy of the weights', () => {
  const before = liveStorages();
  const rng = new Rng(21);
  const model = new RepMLPCifarNet(cifarPreset('RepMLP-CIFAR-MLP', { channels: [4, 8, 8], imgH: 16, imgW: 16, h: 4, w: 4, inChannels: 1 }), { rng, device: DEVICE });
  randomizeBatchNorms(model, rng, 0.3);
  model.eval();
  const compiled = compileInference(model);
  try {
    assert.is(model.deploy, false, 'the model is left in its training form');
    assert.equal(compiled.shapes, []);
    scope(() => {
      const x = randn([3, 1, 16, 16], new Rng(22), { device: DEVICE });
      const want = noGrad(() => model.forward(x)).toFloat32Array();
      const got = compiled.run(x);
      assert.equal([...got.shape], [3, 10]);
      const d = diff(got.toFloat32Array(), want);
      console.log(`  compileInference RepMLP-CIFAR-MLP (reduced), batch 3: relative difference ${d.rel.toExponential(2)}`);
      assert.ok(d.rel <= TOL, `relative difference ${d.rel}`);
      // later changes to the model do not reach the compiled form
      const state = model.stateDict();
      for (const t of state.values()) if (t.dtype === 'float32') (t.data as Float32Array).forEach((v, i, a) => (a[i] = v * 2 + 1));
      model.loadStateDict(state);
      assert.ok(diff(compiled.run(x).toFloat32Array(), want).rel <= TOL, 'the compiled form keeps its weights');
    });
  } finally {
    compiled.dispose();
    model.dispose();
  }
  assert.equal(liveStorages(), before, 'every buffer freed');
  assertThrows(() => compiled.run(randn([1, 1, 16, 16], new Rng(1), { device: DEVICE })), /compileInference.run: expected a compiled model that was not disposed/);
});

test('compileInference: errors name the argument', () => {
  const model = build(PART, 13, true);
  const compiled = compileInference(model);
  try {
    scope(() => {
      assertThrows(() => compileInference({} as RepMLPNet), /compileInference: expected a RepMLPNet, RepMLPResNet or RepMLPCifarNet for model but received Object/);
      assertThrows(() => compileInference(model, { maxPlans: 0 }), /compileInference: expected an integer >= 1 for options.maxPlans but received 0/);
      assertThrows(() => compileInference(model, { onWarning: 'stderr' as never }), /compileInference: expected a function for options.onWarning but received 'stderr'/);
      const x = (shape: number[]) => randn(shape, new Rng(1), { device: DEVICE });
      assertThrows(() => compiled.run(x([1, 2, 16, 32])), /compileInference.run: expected shape \(\*, 3, \*, \*\) for x but received shape \(1, 2, 16, 32\)/);
      assertThrows(() => compiled.run(x([1, 3, 18, 32])), /compileInference.run: expected a height and width divisible by 4 \(patch 2, 2 stages\) for x/);
      assertThrows(() => compiled.run(x([1, 3, 12, 32])), /compileInference.run: expected maps that stage 0 cuts into 4 x 2 partitions for x but received shape \(1, 3, 12, 32\) \(a 6 x 16 map\)/);
      if (DEVICE === 'cuda') assertThrows(() => compiled.run(randn([1, 3, 16, 32], new Rng(1))), /expected a tensor on cuda like the compiled model/);
    });
  } finally {
    compiled.dispose();
    model.dispose();
  }
  assertThrows(() => compiled.run(randn([1, 3, 16, 32], new Rng(1), { device: DEVICE })), /compileInference.run: expected a compiled model that was not disposed/);
});

test('compileInference: runs in a loop keep memory flat; dispose frees every buffer', () => {
  const before = liveStorages();
  const model = build(preset('small', { inChannels: 1, numClasses: 10 }), 14, false);
  const compiled = compileInference(model);
  const x = randn([4, 1, 32, 32], new Rng(15), { device: DEVICE });
  const allocated = (): number => (DEVICE === 'cuda' ? memoryStats().cuda!.allocatedBytes : memoryStats().cpu.allocatedBytes);
  scope(() => void compiled.run(x));
  const live = liveStorages(), bytes = allocated();
  for (let i = 0; i < 50; i++) scope(() => void compiled.run(x));
  assert.equal(liveStorages(), live, 'live storages after 50 runs');
  assert.is(allocated(), bytes, 'allocated bytes after 50 runs');
  compiled.dispose();
  model.dispose();
  x.dispose();
  assert.equal(liveStorages(), before, 'after dispose');
});

/** Every value of a real program set, one at a time, to a hostile one: checked, never a crash. */
test('compileInference.profile: every step timed and labelled, its GEMMs the deploy form\'s multiply-adds, the logits as run()\'s', () => {
  for (const [config, input] of [[preset('small'), [3, 32, 32]], [PART, [3, 16, 32]]] as const) {
    const model = build(config, 5, true);
    const compiled = compileInference(model);
    try {
      scope(() => {
        const x = randn([3, ...input], new Rng(6), { device: DEVICE });
        const steps = compiled.profile(x);
        assert.ok(steps.length > 10 && steps.every((s) => s.ms >= 0 && Number.isFinite(s.ms)), 'a time per step');
        const labels = steps.map((s) => s.label);
        for (const want of ['stem patch conv', 'stage 0 block 0 fc3', 'stage 1 block 0 ffn', 'embed 0 patch copy', 'head logits'])
          assert.ok(labels.includes(want), `a step labelled ${want} in ${labels.join(', ')}`);
        const macs = steps.reduce((sum, s) => sum + s.flops / 2, 0);
        assert.is(macs, 3 * flops({ ...config, deploy: true }, [input[1], input[2]]), 'the GEMMs\' multiply-adds');
        assert.ok(steps.every((s) => (s.kind === 'gemm' || s.kind === 'ffn') === s.flops > 0), 'flops on the products alone');
        const want = noGrad(() => model.forward(x)).toFloat32Array();
        assert.ok(diff(compiled.run(x).toFloat32Array(), want).rel <= TOL, 'the profiled plan runs as run()');
      });
    } finally {
      compiled.dispose();
      model.dispose();
    }
  }
  const m2021 = new RepMLPCifarNet(cifarPreset('RepMLP-CIFAR-MLP', { channels: [4, 8, 8], imgH: 16, imgW: 16, h: 4, w: 4, inChannels: 1 }), { rng: new Rng(1), device: DEVICE });
  const eager = compileInference(m2021);
  try {
    scope(() => assertThrows(() => eager.profile(randn([1, 1, 16, 16], new Rng(2), { device: DEVICE })), /compileInference.profile: expected a compiled RepMLPNet/));
  } finally {
    eager.dispose();
    m2021.dispose();
  }
});

test('infer_run: a corrupted program is refused or runs within its storages', () => {
  const model = build(PART, 16, true);
  const compiled = compileInference(model);
  try {
    const x = randn([2, 3, 16, 32], new Rng(17), { device: DEVICE });
    scope(() => void compiled.run(x));
    // the program and storages as run() passes them, through a recording addon call
    let captured: { program: Float64Array; storages: Parameters<typeof native.infer_run>[0]['storages'] } | null = null;
    const real = native.infer_run;
    native.infer_run = (p) => void (captured = { program: p.program.slice(), storages: [...p.storages] });
    let out: Tensor;
    try {
      out = compiled.run(x); // kept: its storage is the program's output
    } finally {
      native.infer_run = real;
    }
    const { program, storages } = captured!;
    const rng = new Rng(18);
    const hostile = [-2, -1, 0.5, 1, 3, 2 ** 31, 2 ** 53, NaN, Infinity, -1e300, 1e9, 4];
    let refused = 0;
    for (let t = 0; t < 400; t++) {
      const p = program.slice();
      p[rng.int(p.length)] = hostile[rng.int(hostile.length)];
      try {
        native.infer_run({ program: p, storages, stepSeconds: null });
      } catch (e) {
        assert.match((e as Error).message, /^infer_run: /);
        refused++;
      }
    }
    assert.ok(refused > 100 && refused < 400, `${refused} of 400 refused`);
    assertThrows(() => native.infer_run({ program: program.slice(0, -1), storages, stepSeconds: null }), /infer_run: expected the \d+ fields of step \d+ \(\w+\) for program/);
    assertThrows(() => native.infer_run({ program, storages: [...storages, storages[0]], stepSeconds: null }), /which no step names/);
    assertThrows(() => native.infer_run({ program, storages, stepSeconds: new Float64Array(1) }), /infer_run: expected a Float64Array of one element per step \(\d+\) for stepSeconds but received one of 1/);
    assertThrows(() => native.infer_run({ program, storages, stepSeconds: [0] as unknown as Float64Array }), /expected a Float64Array or null for stepSeconds/);
    x.dispose();
    out.dispose();
  } finally {
    compiled.dispose();
    model.dispose();
  }
});

test.run();
