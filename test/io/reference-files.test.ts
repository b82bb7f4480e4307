// The files users of the reference code hold (test/fixtures/gen_reference.py, written by
// Debian's torch): the training script's checkpoint (a yacs CfgNode, AdamW's state, an EMA),
// convert.py's deploy file (non-contiguous fc3 weights), the legacy format, a pickled model.
// Each reads without running anything, to the tensors torch saved, bit for bit.
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { describePth, readPth, readPthCheckpoint } from '../../lib/io/pth';
import { PyObject, TensorRef } from '../../lib/io/pickle-values';
import { dottedFields, fieldAt } from '../../lib/io/pyvalue';
import type { HostTensor } from '../../lib/io/safetensors';
import { fixtureSection } from '../helpers';

const fixtures = path.join(__dirname, '..', 'fixtures');
const fx = (name: string) => path.join(fixtures, name);
const section = (prefix: string) => fixtureSection('reference', prefix);

/** Same keys in the same order as torch's state_dict(), shapes, dtypes, bit-exact values. */
function same(name: string, actual: Map<string, HostTensor>, expected: Map<string, HostTensor>, order: string[]): void {
  assert.equal([...actual.keys()], order, `${name}: keys in state_dict() order`);
  assert.equal([...actual.keys()].sort(), [...expected.keys()].sort(), `${name}: keys`);
  for (const [k, e] of expected) {
    const a = actual.get(k)!;
    assert.equal(a.shape, e.shape, `${name} ${k}: shape`);
    assert.is(a.dtype, e.dtype, `${name} ${k}: dtype`);
    assert.equal([...a.data], [...e.data], `${name} ${k}: values`);
  }
}

// The model's keys in state_dict() order, as the legacy file lists them (torch keeps that order in every format).
const ORDER = [...readPth(fx('ref_legacy.pth')).keys()];

test("the training script's checkpoint: model, EMA, epoch, accuracy, the yacs config, AdamW's state", () => {
  const ck = readPthCheckpoint(fx('ref_ckpt.pth'));
  assert.is(ck.format, 'zip');
  assert.equal(ck.path, ['model']);
  same('ref_ckpt model', ck.stateDict, section('ref.sd.model'), ORDER);
  same('ref_ckpt ema', readPth(fx('ref_ckpt.pth'), { ema: true }), section('ref.sd.ema'), ORDER);
  assert.equal([...(ck.root as Map<string, unknown>).keys()], ['model', 'optimizer', 'lr_scheduler', 'max_accuracy', 'epoch', 'config', 'amp', 'ema']);
  assert.is(fieldAt(ck.root, 'epoch'), 1);
  assert.is(fieldAt(ck.root, 'max_accuracy'), 12.5);
  // the CfgNode: a placeholder of its class holding its items, its attributes from BUILD
  const config = fieldAt(ck.root, 'config');
  assert.ok(config instanceof PyObject && config.cls === 'yacs.config.CfgNode');
  assert.is(fieldAt(config, 'MODEL', 'ARCH'), 'RepMLPNet-tiny');
  assert.equal(fieldAt(config, 'TRAIN', 'OPTIMIZER', 'BETAS'), [0.9, 0.999]);
  const state = (config as PyObject).state as Map<string, unknown>;
  assert.equal([...state], [['__immutable__', true], ['__deprecated_keys__', []], ['__renamed_keys__', new Map()], ['__new_allowed__', false]]);
  assert.is(dottedFields(config).get('TRAIN.LR_SCHEDULER.NAME'), 'cosine');
  // AdamW after two steps: int keys, a 'step' tensor per parameter, two parameter groups
  const opt = fieldAt(ck.root, 'optimizer', 'state') as Map<unknown, Map<string, unknown>>;
  const params = (fieldAt(ck.root, 'optimizer', 'param_groups') as Map<string, unknown>[]).flatMap((g) => g.get('params') as number[]);
  assert.equal([...opt.keys()], params);
  for (const entry of opt.values()) {
    const step = entry.get('step');
    assert.ok(step instanceof TensorRef && step.dtype === 'float32' && step.shape.length === 0);
    assert.equal([...entry.keys()], ['step', 'exp_avg', 'exp_avg_sq']);
  }
  assert.is(fieldAt(ck.root, 'amp', 'loss_scaler0', 'loss_scale'), 65536);
});

test("convert.py's deploy file: fc3 weights saved as transposed views read as the views they are", () => {
  const d = describePth(fx('ref_deploy.pth'));
  const fc3 = d.tensors.get('stages.0.0.repmlp_block.fc3.weight')!;
  assert.equal([...fc3.shape], [32, 16, 1, 1]);
  assert.equal([...fc3.stride], [1, 32, 32, 32], 'a transposed view, as the reference code leaves it');
  const deployOrder = [...section('ref.sd.deploy').keys()].sort();
  const sd = readPth(fx('ref_deploy.pth'));
  same('ref_deploy', sd, section('ref.sd.deploy'), [...sd.keys()]);
  assert.equal([...sd.keys()].sort(), deployOrder);
});

test('the legacy format and a pickled model hold the same state dict', () => {
  const legacy = readPthCheckpoint(fx('ref_legacy.pth'));
  assert.is(legacy.format, 'legacy');
  same('ref_legacy', legacy.stateDict, section('ref.sd.model'), ORDER);
  const module = readPthCheckpoint(fx('ref_module.pth'));
  assert.ok(module.root instanceof PyObject && module.root.cls === 'reference_model.RepMLPNet');
  assert.equal(module.path, ['reference_model.RepMLPNet object']);
  same('ref_module', module.stateDict, section('ref.sd.model'), ORDER);
});

test.run();
