// The command line's parser and option checks (lib/cli/args.ts, lib/cli/options.ts), the
// resolver from weights and --arch to a config (lib/cli/weights.ts) and the model's config
// validator as the CLI uses it, without running a command.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { flags, parseCommandLine, valued } from '../../lib/cli/args';
import { configFromJson } from '../../lib/cli/arch';
import { UsageError } from '../../lib/cli/command';
import { alternatives, checkExists, choiceOption, intOption, listOption, numberOption, pathOption } from '../../lib/cli/options';
import { resolveModel, weightsForm } from '../../lib/cli/weights';
import { AdamW, preset, RepMLPNet, validateConfig, writeSafetensors, type RepMLPNetConfig } from '../../lib/index';
import { writeCheckpoint } from '../../lib/train/checkpoint';
import { assertThrows } from '../helpers';
import { dict, MARK, newObject, PROTO2, SETITEMS, STOP, str, tensorOps, zip } from '../io/pickles';

const OPTS = { ...valued('seed', 'arch'), ...flags('json') };
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'repmlp-args-'));

test('parseCommandLine: values, flags, positionals, --help, and values that start with a dash', () => {
  const cl = parseCommandLine('x', ['--seed', '-1', 'a', '--json', '--arch=small'], OPTS, 1);
  assert.equal(cl.values.seed, '-1');
  assert.equal(cl.values.arch, 'small');
  assert.is(cl.values.json, true);
  assert.equal(cl.positional, ['a']);
  assert.is(cl.help, false);
  // after --, everything is positional; with --help the positional count is not checked
  assert.equal(parseCommandLine('x', ['--', '--json'], OPTS, 1).positional, ['--json']);
  assert.is(parseCommandLine('x', ['-h', 'a', 'b'], OPTS).help, true);
});

test('parseCommandLine: every mistake is a UsageError naming the command and the argument', () => {
  const cases: [string[], RegExp][] = [
    [['--bogus'], /^x: unknown option '--bogus'$/],
    [['-s'], /^x: unknown option '-s'$/],
    [['--seed'], /^x: option '--seed' needs a value$/],
    [['--json=1'], /^x: option '--json' takes no value$/],
    [['a', 'b'], /^x: unexpected argument 'b'$/],
  ];
  for (const [args, re] of cases) {
    assertThrows(() => parseCommandLine('x', args, OPTS, 1), re);
    try {
      parseCommandLine('x', args, OPTS, 1);
    } catch (e) {
      assert.instance(e, UsageError);
    }
  }
});

test('option helpers: absent is undefined; bad values name the option and the value', () => {
  const v = { n: '12', f: '0.5', c: 'cpu', l: '1,2' };
  assert.is(intOption('x', v, 'n', { min: 1, max: 12 }), 12);
  assert.is(intOption('x', v, 'absent'), undefined);
  assertThrows(() => intOption('x', { n: '-3' }, 'n'), /^x: expected an integer >= 0 for --n but received '-3'$/);
  assertThrows(() => intOption('x', { n: '13' }, 'n', { min: 1, max: 12 }), /^x: expected an integer in \[1, 12\] for --n but received '13'$/);
  assertThrows(() => intOption('x', { n: '0' }, 'n', { min: 1, what: 'a positive integer' }), /^x: expected a positive integer for --n but received '0'$/);
  assert.is(numberOption('x', v, 'f', { max: 1 }), 0.5);
  assertThrows(() => numberOption('x', { f: ' ' }, 'f'), /^x: expected a number >= 0 for --f but received ' '$/);
  assertThrows(() => numberOption('x', { f: '2' }, 'f', { max: 1 }), /^x: expected a number in \[0, 1\] for --f but received '2'$/);
  assert.is(choiceOption('x', v, 'c', ['cpu', 'cuda']), 'cpu');
  assertThrows(() => choiceOption('x', { c: 'tpu' }, 'c', ['auto', 'cpu', 'cuda']), /^x: expected auto, cpu or cuda for --c but received 'tpu'$/);
  assert.is(alternatives(['a']), 'a');
  assert.equal(listOption('x', v, 'l', 'numbers', (s) => (/^\d+$/.test(s) ? Number(s) : null)), [1, 2]);
  assertThrows(() => listOption('x', { l: ',' }, 'l', 'numbers', () => 1), /^x: expected a comma-separated list of numbers for --l but received ','$/);
  assert.is(pathOption('x', { p: 'a.txt' }, 'p'), 'a.txt');
  assertThrows(() => pathOption('x', {}, 'weights', { required: 'file' }), /^x: --weights <file> is required$/);
  assertThrows(() => checkExists('x', path.join(tmp, 'none')), /^x: .*none does not exist$/);
});

test('validateConfig: the model and a config file share the field-by-field checks', () => {
  const small = preset('small');
  assert.equal(validateConfig({ ...small, globalPerceptronReduce: undefined, deploy: undefined }), { ...small, globalPerceptronReduce: 4, deploy: false });
  assertThrows(() => validateConfig({ ...small, sharesetsNums: [2, 4] }), /^RepMLPNet: expected 3 entries \(one per stage, like numBlocks\) in 'sharesetsNums' but received 2$/);
  assertThrows(() => validateConfig({ ...small, globalPerceptronReduce: 0 }, 'config c.json'), /^config c\.json: expected a positive integer for 'globalPerceptronReduce' but received 0$/);
  assertThrows(() => configFromJson({ ...small, extra: 1, more: 2 }, 'c.json'), /^config c\.json: unknown fields 'extra', 'more' \(fields: /);
  assertThrows(() => configFromJson(null, 'c.json'), /^config c\.json: expected a JSON object but received null$/);
  // a config file's fields are returned as written: the model adds the defaults
  const { globalPerceptronReduce: _, deploy: __, ...bare } = small;
  assert.equal(configFromJson(bare, 'c.json'), bare);
});

test('resolveModel: --arch before the weights, presets fitted to the weights or the data, checkpoints need no --arch', () => {
  const cfg: RepMLPNetConfig = { ...preset('small'), inChannels: 1, numClasses: 4, numBlocks: [1, 1, 1], channels: [8, 16, 32] };
  const model = new RepMLPNet(cfg);
  const file = path.join(tmp, 'w.safetensors');
  writeSafetensors(file, model.stateDict());
  model.dispose();
  const fitted = resolveModel('x', { weights: file, arch: 'small' });
  assert.equal([fitted.config.inChannels, fitted.config.numClasses, fitted.form, fitted.archName, fitted.fromCheckpoint], [1, 4, 'train', 'small', false]);
  assert.equal(weightsForm(fitted.state), 'train');
  assert.is(resolveModel('x', { weights: file, arch: 'small', fit: 'preset' }).config.inChannels, 3);
  assert.is(resolveModel('x', { weights: file, arch: 'small', fit: { inChannels: 2, numClasses: 7 } }).config.numClasses, 7);
  assertThrows(() => resolveModel('x', { weights: file, arch: undefined }), /^x: --arch <preset \| config\.json> is required for weights that record no config \(written elsewhere, or not by repmlp train\)$/);
  assertThrows(() => resolveModel('x', { weights: file, arch: undefined, archRequired: true }), /^x: --arch <preset \| config\.json> is required$/);
  // a bad --arch is reported without reading the weights (here: no such file)
  assertThrows(() => resolveModel('x', { weights: path.join(tmp, 'none'), arch: 'RepMLPNet-X' }), /^x: --arch 'RepMLPNet-X' is neither a preset/);
});

test("resolveModel: --ema, --partition-order, and the preset a reference-code checkpoint's config names", () => {
  const cfg: RepMLPNetConfig = { ...preset('small'), inChannels: 1, numClasses: 4, numBlocks: [1, 1, 1], channels: [8, 16, 32] };
  const model = new RepMLPNet(cfg);
  const ema = new Map([...model.stateDict()].map(([k, v]) => [k, v.dtype === 'float32' ? { ...v, data: (v.data as Float32Array).map((x) => x / 2) } : v]));
  const file = path.join(tmp, 'last.safetensors');
  const meta = {
    epoch: 1, batch: 0, step: 3, loader: { seed: 0, epoch: 1, batch: 0, rng: [1, 2, 3, 4] }, bestAccuracy: 0.5, lastAccuracy: 0.5,
    epochLoss: 0, epochCorrect: 0, epochSeen: 0, config: cfg, options: { arch: 'custom' },
  };
  writeCheckpoint(file, { model: model.stateDict(), ema, optimizer: new AdamW(model.parameters(), { lr: 1e-3 }).stateDict(), meta });
  const key = 'head.weight';
  assert.equal([...resolveModel('x', { weights: file, arch: undefined, ema: true }).state.get(key)!.data], [...ema.get(key)!.data]);
  assert.equal([...resolveModel('x', { weights: file, arch: undefined }).state.get(key)!.data], [...model.stateDict().get(key)!.data]);
  const plain = path.join(tmp, 'plain.safetensors');
  writeSafetensors(plain, model.stateDict());
  model.dispose();
  assertThrows(() => resolveModel('x', { weights: plain, arch: 'small', ema: true }), /^checkpoint: expected a training checkpoint with an EMA of the weights \(ema\.\* tensors\) in .*plain\.safetensors but received a plain state dict$/);
  // --partition-order on a checkpoint's config and on a config file; a file that says otherwise
  assert.is(resolveModel('x', { weights: file, arch: undefined, order: 'reference' }).config.partitionOrder, 'reference');
  const json = path.join(tmp, 'paper.json');
  fs.writeFileSync(json, JSON.stringify({ ...cfg, partitionOrder: 'paper' }));
  assertThrows(() => resolveModel('x', { weights: plain, arch: json, order: 'reference' }), /^x: --partition-order reference contradicts partitionOrder 'paper' in .*paper\.json$/);
  // the reference code's checkpoint: {'model': ..., 'config': CfgNode} naming MODEL.ARCH 'small'
  const shapes: [string, number[]][] = [['conv_embedding.conv.weight', [32, 1, 2, 2]], ['head.weight', [10, 128]], ['stages.0.0.repmlp_block.fc3_bn.weight', [2]]];
  const node = (entries: [string, Buffer][]) => Buffer.concat([newObject('yacs.config', 'CfgNode'), MARK, ...entries.flatMap(([k, v]) => [str(k), v]), SETITEMS]);
  const pickle = Buffer.concat([PROTO2, dict([
    ['model', dict(shapes.map(([k, shape], i) => [k, tensorOps(String(i), shape.reduce((a, d) => a * d, 1), shape)]))],
    ['config', node([['MODEL', node([['ARCH', str('small')]])]])],
  ]), STOP]);
  const data = shapes.map(([, shape], i) => ({ name: `archive/data/${i}`, data: Buffer.alloc(4 * shape.reduce((a, d) => a * d, 1)) }));
  const ref = path.join(tmp, 'ckpt_epoch_1.pth');
  fs.writeFileSync(ref, zip([{ name: 'archive/data.pkl', data: pickle }, ...data]));
  const r = resolveModel('x', { weights: ref, arch: undefined });
  assert.equal([r.archName, r.fromCheckpoint, r.form], ['small', true, 'train']);
  assert.equal(r.config, { ...preset('small'), inChannels: 1, numClasses: 10 });
});

test.run();
