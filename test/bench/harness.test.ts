// The benchmark harness's pieces that do not depend on timings: statistics, the sample
// calibration, table formatting, the SVG writer, option parsing, and the cost formulas and
// matching of the FC-vs-conv benchmark.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { choiceOption, intOption, listOption, parseOptions, chartsWanted } from '../../bench/lib/args';
import {
  blockMacs, convCost, denseConvMatching, depthwiseConvMatching, fcCost, largestUsefulKernel, nearestOddKernel, presetFc3Shapes,
} from '../../bench/lib/shapes';
import { gbps, gflops, measure, measureAsync, median, runsPerSample } from '../../bench/lib/stats';
import { peerGemmCheck } from '../../bench/lib/context';
import { axisTicks, barChartSvg } from '../../bench/lib/svg';
import { all, parseXml } from '../viz/xml';
import { fixed, formatTable, sig3, times } from '../../bench/lib/table';
import { modelSpec } from '../../bench/model';

test('median: odd and even counts, unsorted input left alone, empty list rejected', () => {
  const xs = [5, 1, 3];
  assert.is(median(xs), 3);
  assert.equal(xs, [5, 1, 3]);
  assert.is(median([4, 1, 3, 2]), 2.5);
  assert.is(median([7]), 7);
  assert.throws(() => median([]), /median: expected a non-empty list of numbers but received an empty list/);
});

test('measureAsync: the same steps as measure, each run awaited', async () => {
  let runs = 0, pending = 0;
  const t = await measureAsync(async () => {
    assert.is(pending, 0, 'runs do not overlap');
    pending++;
    await new Promise((r) => setImmediate(r));
    pending--;
    runs++;
  }, { warmup: 2, repeats: 3, minSampleMs: 0 });
  assert.is(runs, 2 + 1 + 3);
  assert.is(t.repeats, 3);
  assert.ok(t.ms >= 0 && t.minMs <= t.ms);
});

test('peerGemmCheck: a reference BLAS refused, a starved machine marked, CUDA and fast peers left alone', () => {
  const g = (gflops: number) => ({ n: 1024, ms: 1, gflops });
  assert.is(peerGemmCheck('cpu', g(105), g(150), 'libopenblas'), null);
  const ref = peerGemmCheck('cpu', g(4.6), g(150), '/usr/lib/libblas.so.3')!;
  assert.is(ref.refuse, true);
  assert.match(ref.note, /^PyTorch peer REFUSED: its 1024\^3 matmul ran at 4\.6 GFLOP\/s, below 40 \(repmlp's 150\.0; BLAS \/usr\/lib\/libblas\.so\.3\)/);
  const starved = peerGemmCheck('cpu', g(30), g(35), 'libopenblas')!;
  assert.is(starved.refuse, false);
  assert.match(starved.note, /^PyTorch peer MARKED: .*both sides ran starved \(a loaded machine\)/);
  assert.is(peerGemmCheck('cuda', g(4), g(150), 'x'), null);
});

test('runsPerSample: enough runs to fill the minimum sample time', () => {
  assert.is(runsPerSample(3, 20), 7);
  assert.is(runsPerSample(50, 20), 1);
  assert.is(runsPerSample(0, 10), 10000); // a run too fast to time counts as 1 us
  assert.is(runsPerSample(5, 0), 1);
});

test('measure: warm-up, one calibration run, then repeats x inner runs, a sync after each sample', () => {
  let runs = 0, syncs = 0;
  const t = measure(() => void runs++, () => void syncs++, { warmup: 3, repeats: 4, minSampleMs: 0 });
  assert.is(t.inner, 1);
  assert.is(t.repeats, 4);
  assert.is(runs, 3 + 1 + 4);
  assert.is(syncs, 1 + 1 + 4);
  assert.ok(t.ms >= 0 && t.minMs <= t.ms);
});

test('gflops and gbps: per millisecond units', () => {
  assert.is(gflops(2e9, 1000), 2);
  assert.is(gbps(5e8, 500), 1);
});

test('formatTable: aligned columns, text left, numbers right, missing cells as -', () => {
  const rows = [{ name: 'fc', ms: 1.5 }, { name: 'dense conv', ms: null }];
  const out = formatTable([
    { header: 'op', cell: (r: (typeof rows)[0]) => r.name, align: 'left' },
    { header: 'time ms', cell: (r: (typeof rows)[0]) => fixed(r.ms, 2) },
  ], rows);
  assert.is(out, ['op          time ms', '----------  -------', 'fc             1.50', 'dense conv        -'].join('\n'));
  assert.is(sig3(1234.5), '1235');
  assert.is(sig3(12.345), '12.3');
  assert.is(sig3(0.012345), '0.012');
  assert.is(sig3(NaN), null);
  assert.is(times(2.5), '2.50x');
  assert.is(times(null), null);
});

test('barChartSvg: a well-formed SVG with one bar per value, escaped text, gaps for missing values', () => {
  const svg = barChartSvg({
    title: 'FC <vs> conv & "friends"', yLabel: 'GFLOP/s', groups: ['7x7', '14x14'],
    series: [{ name: 'repmlp', values: [10, 20] }, { name: "PyTorch's", values: [5, null] }],
    note: 'a < b',
  });
  const root = parseXml(svg);
  assert.is(root.name, 'svg');
  const texts = all(root, (n) => n.name === 'text').map((n) => n.text);
  assert.ok(texts.includes('FC &lt;vs&gt; conv &amp; &quot;friends&quot;'), texts.join('|'));
  assert.ok(texts.includes("PyTorch's"));
  const bars = all(root, (n) => n.name === 'rect' && n.children.some((c) => c.name === 'title'));
  assert.equal(bars.map((b) => b.children[0].text), ['repmlp, 7x7: 10', "PyTorch's, 7x7: 5", 'repmlp, 14x14: 20']);
  // the taller value has the taller bar
  assert.ok(Number(bars[2].attrs.height) > Number(bars[0].attrs.height));
  const log = barChartSvg({ title: 't', yLabel: 'img/s', groups: ['a', 'b'], series: [{ name: 's', values: [3, 3000] }], log: true });
  assert.is(parseXml(log).name, 'svg');
  assert.ok(log.includes('(log scale)'));
  assert.throws(
    () => barChartSvg({ title: 't', yLabel: 'y', groups: ['a', 'b'], series: [{ name: 's', values: [1] }] }),
    /barChartSvg: expected 2 values \(one per group\) for series 's' but received 1/,
  );
});

test('axisTicks: round linear steps from 0 past the maximum; decades on a log axis', () => {
  assert.equal(axisTicks(0, 87, false), [0, 20, 40, 60, 80, 100]);
  assert.equal(axisTicks(0, 1, false), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.equal(axisTicks(3, 3000, true), [1, 10, 100, 1000, 10000]);
});

test('options: parsed, checked, errors name the command, the option and the value', () => {
  const v = parseOptions('bench:x', ['--batch', '8', '--maps', '7x7,14x14', '--quick'], { maps: { type: 'string' } });
  assert.is(intOption('bench:x', v, 'batch', { min: 1 }) ?? 4, 8);
  assert.is(intOption('bench:x', v, 'threads', { min: 1 }) ?? 2, 2);
  assert.throws(() => intOption('bench:x', { batch: '0' }, 'batch', { min: 1 }), /bench:x: expected an integer >= 1 for --batch but received '0'/);
  assert.throws(() => intOption('bench:x', { threads: '65' }, 'threads', { min: 1, max: 64 }), /bench:x: expected an integer in \[1, 64\] for --threads but received '65'/);
  assert.throws(() => intOption('bench:x', { batch: '2.5' }, 'batch', { min: 1 }), /for --batch but received '2.5'/);
  assert.throws(() => parseOptions('bench:x', ['--bogus'], {}), /^bench:x: unknown option '--bogus'/);
  assert.throws(() => parseOptions('bench:x', ['extra'], {}), /^bench:x: unexpected argument 'extra'/);
  assert.throws(() => choiceOption('bench:x', parseOptions('bench:x', ['--device', 'tpu'], {}), 'device', ['cpu', 'cuda']),
    /^bench:x: expected cpu or cuda for --device but received 'tpu'/);
  assert.is(parseOptions('bench:x', ['-h'], {}).help, true);
  const odd = (s: string) => (/^\d+$/.test(s) && Number(s) % 2 ? Number(s) : null);
  assert.equal(listOption('bench:x', { k: '1,3' }, 'k', 'odd numbers', odd), [1, 3]);
  assert.is(listOption('bench:x', {}, 'k', 'odd numbers', odd), undefined);
  assert.throws(() => listOption('bench:x', { k: '1,4' }, 'k', 'odd numbers', odd), /bench:x: expected a comma-separated list of odd numbers for --k but received '1,4'/);
  assert.is(chartsWanted({ quick: true }), false);
  assert.is(chartsWanted({}), true);
  assert.is(chartsWanted({ quick: true, charts: true }), true);
  assert.is(chartsWanted({ 'no-charts': true }), false);
  assert.throws(() => chartsWanted({ charts: true, 'no-charts': true }), /at most one of --charts and --no-charts/);
});

test('costs: FC and conv multiply-adds, parameters and minimal bytes', () => {
  const fc = { N: 2, C: 8, h: 7, w: 7, S: 4 };
  assert.equal(fcCost(fc), { macs: 2 * 8 * 49 * 49, params: 4 * 49 * 49, bytes: 4 * (2 * 2 * 8 * 49 + 4 * 49 * 49) });
  const dense = { N: 2, C: 8, h: 7, w: 7, k: 3, Cout: 5, groups: 1 };
  assert.equal(convCost(dense), { macs: 2 * 49 * 5 * 8 * 9, params: 5 * 8 * 9, bytes: 4 * (2 * 8 * 49 + 360 + 2 * 5 * 49) });
  const dw = { N: 2, C: 8, h: 7, w: 7, k: 7, Cout: 8, groups: 8 };
  assert.equal(convCost(dw).params, 8 * 49);
  assert.is(convCost(dw).macs, 2 * 49 * 8 * 49);
  // fc3 plus the 1x1 and 3x3 branches, plus the Global Perceptron's two FCs (C -> C/4 -> C)
  assert.is(blockMacs(fc, [1, 3]), 2 * (2 * 8 * 2 + 8 * 49 * 49 + 8 * 10 * 49));
  assert.is(blockMacs(fc, []), 2 * (2 * 8 * 2 + 8 * 49 * 49));
});

test('matching: the conv of equal FLOPs or parameters is the nearest one', () => {
  assert.is(nearestOddKernel(49), 7);
  assert.is(nearestOddKernel(64), 7); // 49 is nearer to 64 than 81
  assert.is(nearestOddKernel(196), 13); // |169 - 196| < |225 - 196|
  assert.is(nearestOddKernel(0.5), 1);
  assert.is(largestUsefulKernel(7, 7), 13);
  const fc = { N: 4, C: 128, h: 14, w: 14, S: 1 };
  // dense 3x3: Cout * C * 9 * hw = C * hw^2 -> Cout = 196 / 9 = 21.8 -> 22
  const eqF = denseConvMatching(fc, 3, 'flops');
  assert.ok(eqF.conv);
  assert.is(eqF.conv!.Cout, 22);
  assert.ok(Math.abs(convCost(eqF.conv!).macs / fcCost(fc).macs - 1) < 0.05);
  // dense 3x3: Cout * C * 9 = S * hw^2 -> Cout = 38416 / 1152 = 33.3 -> 33
  const eqP = denseConvMatching({ ...fc, S: 1 }, 3, 'params');
  assert.is(eqP.conv!.Cout, 33);
  assert.ok(Math.abs(convCost(eqP.conv!).params / fcCost(fc).params - 1) < 0.05);
  // depthwise: k^2 = hw -> 13 (169 vs 196); parameters: k^2 = S hw^2 / C = 300 -> 17
  const dwF = depthwiseConvMatching(fc, 'flops');
  assert.equal(dwF.conv, { N: 4, C: 128, h: 14, w: 14, k: 13, Cout: 128, groups: 128 });
  assert.is(depthwiseConvMatching(fc, 'params').conv!.k, 17);
  // S = 16 needs k^2 = 4802: 69 x 69, more than a 14 x 14 map can use
  const none = depthwiseConvMatching({ ...fc, S: 16 }, 'params');
  assert.is(none.conv, null);
  assert.match((none as { reason: string }).reason, /equal params needs a 69x69 depthwise kernel, larger than the 27x27 a 14x14 map can use/);
});

test('presetFc3Shapes: every stage of a preset at its map size', () => {
  const st = presetFc3Shapes(['RepMLPNet-T224', 'RepMLPNet-L256'], 2);
  assert.equal(st.slice(0, 4).map((s) => [s.stage, s.C, s.h, s.w, s.S, s.N]), [
    [1, 64, 56, 56, 1, 2], [2, 128, 28, 28, 4, 2], [3, 256, 14, 14, 16, 2], [4, 512, 7, 7, 128, 2],
  ]);
  assert.equal(st.slice(4).map((s) => [s.C, s.h, s.S]), [[96, 64, 1], [192, 32, 4], [384, 16, 32], [768, 8, 256]]);
});

test('modelSpec: the small configs, the presets by short or full name, unknown names rejected', () => {
  const small = modelSpec('small')!;
  assert.equal(small.input, [1, 32, 32]);
  assert.equal(small.cfg.reparamConvK, [1, 3]);
  assert.equal(modelSpec('small-nolocal')!.cfg.reparamConvK, []);
  assert.equal(modelSpec('cifar')!.input, [3, 32, 32]);
  assert.equal(modelSpec('T256')!.input, [3, 256, 256]);
  assert.is(modelSpec('RepMLPNet-B224')!.name, 'B224');
  assert.is(modelSpec('T512'), null);
});

test('modelSpec: the 2021 presets by name, with their family\'s config and input', () => {
  const light = modelSpec('RepMLP-Res50-Light-224')!;
  assert.is(light.name, 'RepMLP-Res50-Light-224');
  assert.equal(light.input, [3, 224, 224]);
  assert.is(light.small, false);
  assert.is((light.cfg as { arch?: string }).arch, 'RepMLPResNet');
  assert.is((modelSpec('ResNet-50')!.cfg as { blockType?: string }).blockType, 'base');
  const mlp = modelSpec('RepMLP-CIFAR-MLP')!;
  assert.equal(mlp.input, [3, 32, 32]);
  assert.is(mlp.small, true);
  assert.is(modelSpec('RepMLP-Res50-Light'), null);
});

test.run();
