// renderLocalitySvg: a well-formed SVG with 2 h w cells, the point, the window, color bars
// and text; the viridis colormap and the log10 scale.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { logRange, logTicks, renderLocalitySvg, viridis, VIRIDIS_STOPS, type LocalityMaps } from '../../lib/index';
import { assertThrows } from '../helpers';
import { all, parseXml, type Node } from './xml';

const byClass = (root: Node, cls: string) => all(root, (n) => n.attrs.class === cls);

// A 5 x 4 map with weights spanning several decades; the point (1, 2), a 3 x 3 window.
function maps(over: Partial<LocalityMaps> = {}): LocalityMaps {
  const h = 5, w = 4;
  const before = Float32Array.from({ length: h * w }, (_, i) => (i % 2 ? -1 : 1) * 10 ** (-(i % 5)));
  const after = Float32Array.from(before, (v, i) => (i === 6 ? 3 : v * 0.5));
  after[0] = 0; // a zero weight: the lowest color
  return {
    stage: 1, block: 2, channel: 5, y: 1, x: 2, C: 8, S: 4, h, w, shareSet: 1, row: 1 * 20 + 6, K: 3,
    window: { k: 3, y0: 0, y1: 3, x0: 1, x1: 4 }, bnScale: 0.5, before, after, afterBias: 0, ...over,
  };
}

test('svg: well-formed, 2 h w cells, the point and window on both panels, per-panel color bars', () => {
  const svg = renderLocalitySvg(maps(), { label: 'small <weights & co>' });
  const root = parseXml(svg);
  assert.is(root.name, 'svg');
  assert.is(root.attrs.xmlns, 'http://www.w3.org/2000/svg');
  const cells = byClass(root, 'cell');
  assert.is(cells.length, 2 * 5 * 4);
  for (const c of cells) assert.match(c.attrs.fill, /^#[0-9a-f]{6}$/);
  assert.is(byClass(root, 'point').length, 2);
  const wins = byClass(root, 'window');
  assert.is(wins.length, 2);
  assert.is(wins[0].attrs['stroke-dasharray'], undefined);
  assert.is(byClass(root, 'colorbar').length, 2);
  assert.ok(byClass(root, 'tick').length >= 6);
  const texts = all(root, (n) => n.name === 'text').map((n) => n.text);
  assert.ok(texts.includes('small &lt;weights &amp; co&gt;'), 'the label, escaped');
  assert.ok(texts.includes('FC3 before Locality Injection'));
  assert.ok(texts.includes('merged FC after'));
  assert.ok(texts.some((t) => t.startsWith('stages.1.2.repmlp_block · channel 5 (share-set 1 of S = 4) · output point (1, 2) · partition 5 x 4')));
  assert.ok(texts.some((t) => t.includes('per-panel scale')));
  const stats = byClass(root, 'stats');
  assert.is(stats.length, 1);
  assert.match(stats[0].text, /^mean \|W\| inside \/ outside the window: before \d+\.\d\dx \(.*\), after \d+\.\d\dx \(.*\)$/);
  // per-panel: each panel's largest |W| gets the brightest color, the zero the darkest
  const [b, a] = [cells.slice(0, 20), cells.slice(20)];
  assert.is(b[0].attrs.fill, VIRIDIS_STOPS[10]); // |W| = 1 is the largest of "before"
  assert.is(a[6].attrs.fill, VIRIDIS_STOPS[10]); // 3 is the largest of "after"
  assert.is(a[0].attrs.fill, VIRIDIS_STOPS[0]);
  // the window outline spans 3 x 3 cells at (0, 1), the ring sits on cell (1, 2)
  const cell = Number(b[0].attrs.width);
  assert.is(Number(wins[0].attrs.width), 3 * cell);
  assert.is(Number(wins[0].attrs.x), Number(b[1].attrs.x));
  const ring = byClass(root, 'point')[0];
  assert.is(Number(ring.attrs.cx), Number(b[6].attrs.x) + cell / 2);
  assert.is(Number(ring.attrs.cy), Number(b[6].attrs.y) + cell / 2);
});

test('svg: shared scale has one color bar; no conv branches: a dashed reference window or none', () => {
  const shared = parseXml(renderLocalitySvg(maps(), { scale: 'shared' }));
  assert.is(byClass(shared, 'colorbar').length, 1);
  const cells = byClass(shared, 'cell');
  assert.is(cells[26].attrs.fill, VIRIDIS_STOPS[10]); // 3 is the largest of both
  assert.is.not(cells[0].attrs.fill, VIRIDIS_STOPS[10]);

  const noConv = maps({ K: null, window: null });
  const plain = parseXml(renderLocalitySvg(noConv));
  assert.is(byClass(plain, 'window').length, 0);
  assert.is(byClass(plain, 'stats').length, 0);
  assert.ok(all(plain, (n) => n.name === 'text').some((n) => n.text === 'merged FC after (fc3_bn fused only)'));
  const ref = parseXml(renderLocalitySvg(noConv, { window: { k: 3, y0: 0, y1: 3, x0: 1, x1: 4 } }));
  const wins = byClass(ref, 'window');
  assert.is(wins.length, 2);
  assert.is(wins[0].attrs['stroke-dasharray'], '5 3');
  assert.ok(all(ref, (n) => n.name === 'text').some((n) => n.text.includes('dashed box: a reference 3 x 3 window (the block has no conv branch)')));
});

test('svg: the parser used here rejects broken markup', () => {
  assertThrows(() => parseXml('<svg><g></svg>'), /closes <g>/);
  assertThrows(() => parseXml('<svg><rect/>'), /unclosed <svg>/);
  assertThrows(() => parseXml('<svg><text>a < b</text></svg>'), /malformed tag|bad text/);
  assertThrows(() => parseXml('<svg><text>a & b</text></svg>'), /bad text/);
  assertThrows(() => parseXml('<svg a="1" a="2"/>'), /duplicate attribute/);
});

test('colormap and log scale', () => {
  assert.is(viridis(0), '#440154');
  assert.is(viridis(1), '#fde725');
  assert.is(viridis(0.5), VIRIDIS_STOPS[5]);
  assert.is(viridis(-1), '#440154');
  assert.is(viridis(NaN), '#440154');
  assert.is(viridis(0.05), '#461365'); // halfway between #440154 and #482475
  assert.equal(logRange([0.1, -0.001, 0]), { lo: -3, hi: -1 });
  assert.equal(logRange([1e-9, 1]), { lo: -6, hi: 0 }); // at most 6 decades
  assert.equal(logRange([0, 0]), { lo: -1, hi: 0 });
  assert.equal(logRange([2, -2]), { lo: Math.log10(2) - 1, hi: Math.log10(2) });
  assert.equal(logTicks({ lo: -4.2, hi: -0.3 }), [-4, -3, -2, -1]);
  assert.equal(logTicks({ lo: -6, hi: 0 }), [-6, -4, -2, 0]);
  assert.equal(logTicks({ lo: -0.45, hi: -0.2 }), [-0.4, -0.3, -0.2]);
  assert.equal(logTicks({ lo: -1.2, hi: -0.2 }), [-1, -0.75, -0.5, -0.25]);
  assertThrows(() => renderLocalitySvg(maps(), { scale: 'log' as 'panel' }), /^renderLocalitySvg: expected 'panel' or 'shared' for options\.scale but received 'log'$/);
  assertThrows(() => renderLocalitySvg(maps({ before: new Float32Array(3) })), /^renderLocalitySvg: expected before and after of 5 x 4 = 20 values for maps but received 3 and 20$/);
});

test.run();
