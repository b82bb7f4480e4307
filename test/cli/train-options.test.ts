// `repmlp train`'s recipe options (lib/cli/train.ts): --opt, --momentum, --no-nesterov,
// --accum-steps, --lr-scale-batch, --ema, --ema-decay, --ema-every, as the trainer's
// options; usage errors for bad values and for an option without the one it belongs to;
// the help text names them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseCommandLine } from '../../lib/cli/args';
import { command, trainOptions } from '../../lib/cli/train';
import { preset } from '../../lib/models/presets';
import { resolveConfig } from '../../lib/train/options';
import { runCli } from './run-cli';

const parse = (...args: string[]) => trainOptions(parseCommandLine('train', args, command.options));
const recipe = (...args: string[]) => {
  const o = parse(...args);
  return { optimizer: o.optimizer, momentum: o.momentum, nesterov: o.nesterov, accumSteps: o.accumSteps, lrScaleBatch: o.lrScaleBatch, ema: o.ema, emaDecay: o.emaDecay, emaEvery: o.emaEvery };
};

test('the defaults leave the trainer its own; each option reaches the trainer', () => {
  assert.equal(recipe(), { optimizer: 'adamw', momentum: undefined, nesterov: undefined, accumSteps: undefined, lrScaleBatch: undefined, ema: false, emaDecay: undefined, emaEvery: undefined });
  assert.equal(recipe('--opt', 'sgd', '--momentum', '0.8', '--no-nesterov', '--accum-steps', '4', '--lr-scale-batch', '256', '--ema', '--ema-decay', '0.999', '--ema-every', '2'),
    { optimizer: 'sgd', momentum: 0.8, nesterov: false, accumSteps: 4, lrScaleBatch: 256, ema: true, emaDecay: 0.999, emaEvery: 2 });
  // --partition-order: for a preset, the trainer applies it (the data set gives the channels and classes)
  assert.equal([parse().partitionOrder, parse('--partition-order', 'reference').partitionOrder], [undefined, 'reference']);
  assert.equal(resolveConfig('small', 1, 10, 'reference'), { ...preset('small', { inChannels: 1, numClasses: 10 }), partitionOrder: 'reference' });
  // SGD: Nesterov momentum unless --no-nesterov (the trainer's default)
  assert.equal([recipe('--opt', 'sgd').nesterov, recipe('--opt', 'sgd').momentum], [undefined, undefined]);
});

test('--data DIR and the image options reach the trainer as its data options; file lists too', () => {
  const dir = __dirname;
  const o = parse('--data', dir, '--val-dir', 'v', '--input-size', '64', '--in-channels', '1', '--workers', '3', '--skip-bad-images', '--randaugment', 'none',
    '--erasing', '0.25', '--crop-pct', '0.9', '--interpolation', 'bicubic', '--resampler', 'libvips', '--norm', 'dataset');
  assert.equal(o.data, {
    folder: dir, valDir: 'v', trainList: undefined, valList: undefined, channels: 1, workers: 3, skipBadImages: true, randAugment: null,
    erasing: 0.25, cropPct: 0.9, interpolation: 'bicubic', resampler: 'libvips', norm: 'dataset',
  });
  assert.equal([o.inputSize, o.dataDir, o.out], [64, undefined, undefined]);
  const lists = parse('--train-list', 'a.txt', '--val-list', 'b.txt', '--randaugment', 'rand-m9-mstd0.5-inc1');
  assert.equal(lists.data, {
    folder: undefined, valDir: undefined, trainList: 'a.txt', valList: 'b.txt', channels: 'auto', workers: undefined, skipBadImages: false,
    randAugment: 'rand-m9-mstd0.5-inc1', erasing: undefined, cropPct: undefined, interpolation: undefined, resampler: undefined, norm: undefined,
  });
  assert.equal([parse().data, parse('--data', 'cifar10', '--data-dir', 'd').dataDir], ['fashion-mnist', 'd']);
});

test('bad values and options without theirs are usage errors (exit 2, with the usage)', async () => {
  const cases: [string[], RegExp][] = [
    [['--opt', 'lamb'], /^repmlp train: expected adamw or sgd for --opt but received 'lamb'/],
    [['--momentum', '0.9'], /^repmlp train: --momentum needs --opt sgd/],
    [['--no-nesterov'], /^repmlp train: --no-nesterov needs --opt sgd/],
    [['--opt', 'sgd', '--momentum', '1'], /^repmlp train: expected a number in \[0, 1\) for --momentum but received '1'/],
    [['--opt', 'sgd', '--momentum', '-0.1'], /^repmlp train: expected a number >= 0 for --momentum but received '-0.1'/],
    [['--accum-steps', '0'], /^repmlp train: expected a positive integer for --accum-steps but received '0'/],
    [['--lr-scale-batch', '1.5'], /^repmlp train: expected a positive integer for --lr-scale-batch but received '1.5'/],
    [['--ema-decay', '0.9'], /^repmlp train: --ema-decay needs --ema/],
    [['--ema-every', '4'], /^repmlp train: --ema-every needs --ema/],
    [['--ema', '--ema-decay', '1.5'], /^repmlp train: expected a number in \[0, 1\] for --ema-decay but received '1.5'/],
    [['--ema', '--ema-every', '0'], /^repmlp train: expected a positive integer for --ema-every but received '0'/],
  ];
  for (const [args, re] of cases) {
    const r = await runCli(['train', ...args]);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, re);
    assert.match(r.stderr, /Usage: repmlp train/);
  }
});

test('the help names the recipe options and their defaults', async () => {
  const h = await runCli(['train', '--help']);
  assert.equal(h.code, 0);
  for (const re of [/--opt <o> +adamw \(default\) or sgd/, /--momentum <m> .*default 0\.9/, /--no-nesterov/, /--accum-steps <N> .*default 1/,
    /--lr-scale-batch <B>/, /--ema +keep an exponential moving average/, /--ema-decay <d> .*default 0\.99/, /--ema-every <N> .*default 8/, /best-ema\.safetensors/])
    assert.match(h.stdout, re);
});

test.run();
