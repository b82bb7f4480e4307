// `repmlp viz`: the picture and the numbers from training-form weights (a state dict with a
// config file or a preset, or a training checkpoint with its config), and its errors.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertRejects } from '../helpers';
import { runCli, scratchDir, writeJson } from './run-cli';
import { fc3LocalityMaps, fc3LocalitySummary, localityStats, kernelWindow, preset, RepMLPNet, Rng, type RepMLPNetConfig } from '../../lib/index';
import type { VizResult } from '../../lib/cli/viz';
import { writeSafetensors, type HostTensor } from '../../lib/io/safetensors';
import { all, parseXml } from '../viz/xml';

const CFG: RepMLPNetConfig = {
  inChannels: 1, numClasses: 3, patchSize: 2, numBlocks: [1, 2], channels: [4, 8], hs: [6, 3], ws: [6, 3],
  sharesetsNums: [2, 4], reparamConvK: [1, 3],
};

const tmp = scratchDir('viz');
const cfgJson = writeJson(tmp, 'cfg.json', CFG);

// Random weights with random BN statistics (so that fc3_bn and the branch BNs matter).
function randomState(cfg: RepMLPNetConfig, seed: number): Map<string, HostTensor> {
  const rng = new Rng(seed);
  const m = new RepMLPNet(cfg, { rng });
  const sd = m.stateDict();
  m.dispose();
  for (const [k, v] of sd)
    if (/bn\d?\.(weight|running_var)$/.test(k)) (v.data as Float32Array).forEach((_, i, d) => (d[i] = 0.5 + rng.uniform()));
    else if (/bn\d?\.(bias|running_mean)$/.test(k)) (v.data as Float32Array).forEach((_, i, d) => (d[i] = 0.3 * rng.normal()));
  return sd;
}

const state = randomState(CFG, 7);
const weights = path.join(tmp, 'train.safetensors');
writeSafetensors(weights, state);

function reference(cfg: RepMLPNetConfig, sd: Map<string, HostTensor>, stage: number, block: number, channel: number, y: number, x: number, k: number) {
  const m = new RepMLPNet(cfg);
  try {
    m.loadStateDict(sd);
    const maps = fc3LocalityMaps(m, { stage, block, channel, y, x });
    return { maps, stats: localityStats(maps, kernelWindow(maps.h, maps.w, y, x, k))!, summary: fc3LocalitySummary(m, { stage, block, window: k }) };
  } finally {
    m.dispose();
  }
}

test('viz: a state dict with a config file: defaults (stage 0, block 0, channel 0, the center), text output and the SVG', async () => {
  const out = path.join(tmp, 'default.svg');
  const r = await runCli(['viz', '--weights', weights, '--arch', cfgJson, out]);
  assert.is(r.code, 0, r.stderr);
  const ref = reference(CFG, state, 0, 0, 0, 3, 3, 3);
  const e = (v: number) => v.toExponential(3).replace('.', '\\.').replace('+', '\\+');
  assert.match(r.stdout, new RegExp([
    '^stages\\.0\\.0\\.repmlp_block: C 4, S 2, partition 6 x 6, conv kernels 1, 3',
    `channel 0 \\(share-set 0\\), output point \\(3, 3\\): fc3\\.weight row 21, fc3_bn scale ${ref.maps.bnScale.toFixed(4)}`,
    'mean \\|W\\| in the 3 x 3 window:',
    `  before inside ${e(ref.stats.before.meanInside)}  outside ${e(ref.stats.before.meanOutside)}  ratio ${ref.stats.before.ratio.toFixed(2)}`,
    `  after  inside ${e(ref.stats.after.meanInside)}  outside ${e(ref.stats.after.meanOutside)}  ratio ${ref.stats.after.ratio.toFixed(2)}`,
    'pooled over all 72 output points of the block \\(S x h x w\\), each with its own window:',
    `  before inside ${e(ref.summary.before.meanInside)}  outside ${e(ref.summary.before.meanOutside)}  ratio ${ref.summary.before.ratio.toFixed(2)}`,
    `  after  inside ${e(ref.summary.after.meanInside)}  outside ${e(ref.summary.after.meanOutside)}  ratio ${ref.summary.after.ratio.toFixed(2)}`,
    `wrote ${out.replace(/[.\\]/g, '\\$&')}\\n$`,
  ].join('\n')));
  const svg = parseXml(fs.readFileSync(out, 'utf8'));
  assert.is(all(svg, (n) => n.attrs.class === 'cell').length, 2 * 36);
  const texts = all(svg, (n) => n.name === 'text').map((n) => n.text);
  assert.ok(texts.includes(`${cfgJson} · ${weights}`), texts[0]);
});

test('viz: chosen block, channel, point, window and scale; JSON; a preset; a training checkpoint', async () => {
  const out = path.join(tmp, 'chosen.svg');
  const args = ['--stage', '1', '--block', '1', '--channel', '6', '--point', '0,2', '--window', '1', '--scale', 'shared', '--json', out];
  const r = await runCli(['viz', '--weights', weights, '--arch', cfgJson, ...args]);
  assert.is(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as VizResult;
  const ref = reference(CFG, state, 1, 1, 6, 0, 2, 1);
  assert.equal([j.stage, j.block, j.channel, j.shareSet, j.S, j.h, j.w, j.point, j.K], [1, 1, 6, 2, 4, 3, 3, [0, 2], 3]);
  assert.equal(j.stats, JSON.parse(JSON.stringify(ref.stats)));
  assert.equal(j.summary, JSON.parse(JSON.stringify(ref.summary)));
  assert.equal(j.stats.window, { k: 1, y0: 0, y1: 1, x0: 2, x1: 3 });
  assert.is(all(parseXml(fs.readFileSync(out, 'utf8')), (n) => n.attrs.class === 'colorbar').length, 1);

  // `small` with 1 input channel and 3 classes: the preset takes them from the weights
  const small = preset('small', { inChannels: 1, numClasses: 3 });
  const smallState = randomState(small, 2);
  const smallWeights = path.join(tmp, 'small.safetensors');
  writeSafetensors(smallWeights, smallState);
  const p = await runCli(['viz', '--weights', smallWeights, '--arch', 'small', '--stage', '2', '--json', out]);
  assert.is(p.code, 0, p.stderr);
  const pj = JSON.parse(p.stdout) as VizResult;
  assert.equal([pj.h, pj.w, pj.point, pj.S], [4, 4, [2, 2], 8]);
  assert.equal(pj.stats, JSON.parse(JSON.stringify(reference(small, smallState, 2, 0, 0, 2, 2, 3).stats)));

  // a checkpoint as `repmlp train` writes it: model.* keys, the config in the metadata
  const ckpt = path.join(tmp, 'best.safetensors');
  writeSafetensors(ckpt, new Map([...state].map(([k, v]) => [`model.${k}`, v])), {
    metadata: { format: 'repmlp-train', config: JSON.stringify(CFG), options: JSON.stringify({ arch: 'tiny' }) },
  });
  const c = await runCli(['viz', '--weights', ckpt, out]);
  assert.is(c.code, 0, c.stderr);
  assert.ok(all(parseXml(fs.readFileSync(out, 'utf8')), (n) => n.name === 'text').some((n) => n.text === `tiny · ${ckpt}`));
  const d = await runCli(['viz', '--weights', weights, '--arch', cfgJson, path.join(tmp, 'same.svg')]);
  assert.is(c.stdout.replace(out, ''), d.stdout.replace(path.join(tmp, 'same.svg'), ''));
});

test('viz: without conv branches, a dashed reference 3 x 3 window', async () => {
  const cfg = { ...CFG, reparamConvK: [] };
  const file = writeJson(tmp, 'noconv.json', cfg);
  const sd = randomState(cfg, 4);
  const w = path.join(tmp, 'noconv.safetensors');
  writeSafetensors(w, sd);
  const out = path.join(tmp, 'noconv.svg');
  const r = await runCli(['viz', '--weights', w, '--arch', file, out]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /conv kernels none\n.*\nmean \|W\| in the reference 3 x 3 window \(no conv branches\):\n/);
  const svg = parseXml(fs.readFileSync(out, 'utf8'));
  const wins = all(svg, (n) => n.attrs.class === 'window');
  assert.is(wins.length, 2);
  assert.is(wins[0].attrs['stroke-dasharray'], '5 3');
});

test('viz: errors', async () => {
  const out = path.join(tmp, 'err.svg');
  const usage = async (args: string[], re: RegExp) => {
    const r = await runCli(['viz', ...args]);
    assert.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.match(r.stderr, /\n\nUsage: repmlp viz --weights <file>/);
  };
  const w = ['--weights', weights, '--arch', cfgJson];
  await usage([out], /^repmlp viz: --weights <file> is required\n/);
  await usage(['--weights', weights], /^repmlp viz: expected an output file <out\.svg>\n/);
  await usage([...w, 'out.png'], /^repmlp viz: expected a file name ending in \.svg for <out\.svg> but received 'out\.png'\n/);
  await usage([...w, '--stage', '2', out], /^repmlp viz: expected a stage index in \[0, 1\] for --stage but received 2\n/);
  await usage([...w, '--stage', '0', '--block', '1', out], /^repmlp viz: expected a block index of stage 0 in \[0, 0\] for --block but received 1\n/);
  await usage([...w, '--stage', '1', '--channel', '8', out], /^repmlp viz: expected a channel of stage 1 \(8 channels\) in \[0, 7\] for --channel but received 8\n/);
  await usage([...w, '--channel', '-1', out], /^repmlp viz: expected an integer >= 0 for --channel but received '-1'\n/);
  await usage([...w, '--channel', 'x', out], /^repmlp viz: expected an integer >= 0 for --channel but received 'x'\n/);
  await usage([...w, '--stage', '1', '--point', '3,0', out], /^repmlp viz: expected y,x with 0 <= y < 3 and 0 <= x < 3 \(the 3 x 3 partition of stage 1\) for --point but received '3,0'\n/);
  await usage([...w, '--point', '1;2', out], /for --point but received '1;2'\n/);
  await usage([...w, '--window', '4', out], /^repmlp viz: expected an odd window size for --window but received 4\n/);
  await usage([...w, '--window', '0', out], /^repmlp viz: expected an integer >= 1 for --window but received '0'\n/);
  await usage([...w, '--scale', 'log', out], /^repmlp viz: expected panel or shared for --scale but received 'log'\n/);
  await usage(['--weights', weights, out], /^repmlp viz: --arch <preset \| config\.json> is required for weights that record no config \(written elsewhere, or not by repmlp train\)\n/);
  await usage([...w, out, 'extra.svg'], /^repmlp viz: unexpected argument 'extra\.svg'\n/);

  await assertRejects(runCli(['viz', '--weights', path.join(tmp, 'missing.safetensors'), '--arch', cfgJson, out]), /^viz: .*missing\.safetensors does not exist$/);
  // a deploy-form state dict has no "before"
  const m = new RepMLPNet(CFG);
  m.loadStateDict(state);
  const deploy = path.join(tmp, 'deploy.safetensors');
  writeSafetensors(deploy, m.localityInjection().stateDict());
  m.dispose();
  await assertRejects(runCli(['viz', '--weights', deploy, '--arch', cfgJson, out]),
    /^viz: expected training-form weights \(fc3 with fc3_bn and the conv branches\) for --weights but received a deploy-form state dict in .*deploy\.safetensors: Locality Injection has already merged them, so there is no "before" to show$/);
  // weights of another architecture: the loader names the keys
  await assertRejects(runCli(['viz', '--weights', weights, '--arch', 'small', out]), /^loadStateDict: the state dict does not fit RepMLPNet: missing keys: /);
  assert.not.ok(fs.existsSync(out));

  const h = await runCli(['viz', '--help']);
  assert.is(h.code, 0);
  assert.match(h.stdout, /^Usage: repmlp viz --weights <file> \[--arch <preset \| config\.json>\]/);
  const list = await runCli(['--help']);
  assert.match(list.stdout, /\n  viz +draw the FC3 locality picture/);
});

test.run();
