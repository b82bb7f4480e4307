// Which RepMLPNet a state dict is, from its keys and shapes (lib/models/infer.ts): presets
// recognised with the state dict's channels and classes, either form, the config a custom
// model's keys imply, and what the shapes cannot tell.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { inferArchitecture, stateDictForm } from '../../lib/models/infer';
import { preset, presetNames } from '../../lib/models/presets';
import type { RepMLPNetConfig } from '../../lib/models/repmlpnet';
import { stateDictShapes } from '../../lib/models/shapes';

const shapesOf = (cfg: RepMLPNetConfig) => new Map([...stateDictShapes(cfg)].map(([k, v]) => [k, v.shape]));

test('every preset is recognised in both forms, with other channels and classes', () => {
  for (const name of presetNames)
    for (const deploy of [false, true]) {
      const cfg = preset(name, { inChannels: 2, numClasses: 7, deploy });
      const a = inferArchitecture(shapesOf(cfg));
      assert.ok(a.presets.includes(name), `${name} (deploy ${deploy}): ${a.presets} ${a.problem}`);
      assert.is(a.form, deploy ? 'deploy' : 'train');
      assert.equal([a.config!.inChannels, a.config!.numClasses], [2, 7]);
    }
  // T224 and B224 differ from T256 and B256 in their partitions only
  assert.equal(inferArchitecture(shapesOf(preset('RepMLPNet-T224'))).presets, ['RepMLPNet-T224']);
});

test('a custom config: what the keys imply, non-square partitions and the deploy form noted', () => {
  const cfg: RepMLPNetConfig = {
    inChannels: 3, numClasses: 5, patchSize: [2, 1], numBlocks: [2, 1], channels: [8, 16], hs: [4, 2], ws: [2, 2],
    sharesetsNums: [1, 4], reparamConvK: [1, 3, 5], globalPerceptronReduce: 2, deploy: false,
  };
  const a = inferArchitecture(shapesOf(cfg));
  assert.equal(a.config, cfg);
  assert.equal([a.presets, a.problem, a.notes], [[], null, ['stage 1: h*w = 8 is not square; taken as 4 x 2']]);
  const d = inferArchitecture(shapesOf({ ...cfg, deploy: true }));
  assert.equal(d.config, { ...cfg, reparamConvK: [], deploy: true });
  assert.match(d.notes[1], /^deploy form: the conv kernels merged into fc3 are not in the keys/);
  assert.is(stateDictForm(shapesOf(cfg).keys()), 'train');
});

test('keys that are not a RepMLPNet state dict say why', () => {
  assert.match(inferArchitecture(new Map([['w', [2, 2]]])).problem!, /^not a RepMLPNet state dict: no 4-d 'conv_embedding\.conv\.weight'$/);
  const shapes = shapesOf(preset('small'));
  shapes.set('extra.weight', [3]);
  assert.is(inferArchitecture(shapes).problem, "not a RepMLPNet state dict: 'extra.weight' is not a key of that config");
  shapes.delete('extra.weight');
  shapes.set('head.bias', [11]);
  assert.is(inferArchitecture(shapes).problem, "not a RepMLPNet state dict: 'head.bias' is [11], not [10]");
});

test.run();
