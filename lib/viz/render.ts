// The FC3 locality picture as SVG: two heatmaps of log10 |W| over the input h x w partition
// (fc3 before Locality Injection, the merged FC after it), the output point ringed, the
// conv window outlined, viridis colors with color bars, a caption and the inside/outside
// ratios of mean |W|.
import { describe, fail } from '../errors';
import { VIRIDIS_STOPS, viridis } from './colormap';
import { localityStats, type KernelWindow, type LocalityMaps, type WindowStats } from './locality';
import { el, escapeXml, svgDocument, text } from './svg';

export interface LocalitySvgOptions {
  /**
   * 'panel' (default): each heatmap spans its own log10 range with its own color bar (the
   * pattern of each map, independent of fc3_bn's overall scale); 'shared': one range and one
   * color bar for both (magnitudes comparable across the panels).
   */
  scale?: 'panel' | 'shared';
  /** the window to outline and measure (default the block's conv window, maps.window) */
  window?: KernelWindow | null;
  /** the start of the caption, e.g. the architecture name */
  label?: string;
}

/** How many decades below the largest |W| the color scale reaches at most. */
const MAX_DECADES = 6;

interface Range {
  lo: number;
  hi: number;
}

/** The log10 range of |W| over some maps (zeros are shown with the lowest color). */
export function logRange(...maps: ArrayLike<number>[]): Range {
  let lo = Infinity, hi = -Infinity;
  for (const m of maps)
    for (let i = 0; i < m.length; i++) {
      const a = Math.abs(m[i]);
      if (a > 0 && Number.isFinite(a)) {
        const l = Math.log10(a);
        lo = Math.min(lo, l);
        hi = Math.max(hi, l);
      }
    }
  if (hi === -Infinity) return { lo: -1, hi: 0 };
  lo = Math.max(lo, hi - MAX_DECADES);
  return lo < hi ? { lo, hi } : { lo: hi - 1, hi };
}

/** Tick positions (log10 values) inside a range: the coarsest step giving at least 3 ticks. */
export function logTicks(r: Range): number[] {
  for (const step of [2, 1, 0.5, 0.25, 0.1]) {
    const ticks: number[] = [];
    for (let v = Math.ceil(r.lo / step - 1e-9) * step; v <= r.hi + 1e-9; v += step) ticks.push(Math.round(v * 1000) / 1000);
    if (ticks.length >= 3) return ticks;
  }
  return [r.lo, r.hi];
}

/** 10^v for a tick label: 0.032, 1, 1e-3, 3.2e-4. */
function magnitude(v: number): string {
  const a = 10 ** v;
  if (a >= 0.01 && a < 100) return String(Number(a.toPrecision(2)));
  const [m, e] = a.toExponential(1).split('e');
  return `${m.endsWith('.0') ? m.slice(0, -2) : m}e${Number(e)}`;
}

function fmt(v: number): string {
  return Number.isFinite(v) ? v.toExponential(3) : String(v);
}

const CELL_TARGET = 300; // pixels of the longer side of a heatmap
const BAR_W = 14, BAR_LABELS = 58, GAP = 28, M = 20;

export function renderLocalitySvg(maps: LocalityMaps, opts: LocalitySvgOptions = {}): string {
  const op = 'renderLocalitySvg';
  const scale = opts.scale ?? 'panel';
  if (scale !== 'panel' && scale !== 'shared') fail(op, 'options.scale', "'panel' or 'shared'", describe(scale));
  const { h, w } = maps;
  if (maps.before.length !== h * w || maps.after.length !== h * w)
    fail(op, 'maps', `before and after of ${h} x ${w} = ${h * w} values`, `${maps.before.length} and ${maps.after.length}`);
  const win = opts.window === undefined ? maps.window : opts.window;
  const reference = win !== null && maps.window === null; // a window drawn only for comparison
  const cell = Math.max(4, Math.min(48, Math.floor(CELL_TARGET / Math.max(h, w))));
  const pw = cell * w, ph = cell * h;
  const barBlock = 10 + BAR_W + BAR_LABELS;
  const blockW = scale === 'panel' ? pw + barBlock : pw;
  const ranges = scale === 'panel' ? [logRange(maps.before), logRange(maps.after)] : [logRange(maps.before, maps.after)];
  const noConv = maps.K === null;
  const titles = ['FC3 before Locality Injection', noConv ? 'merged FC after (fc3_bn fused only)' : 'merged FC after'];

  // text above the heatmaps (caption) and below them (legend, window statistics)
  const where = `stages.${maps.stage}.${maps.block}.repmlp_block`;
  const caption = [
    ...(opts.label === undefined ? [] : [opts.label]),
    `${where} · channel ${maps.channel} (share-set ${maps.shareSet} of S = ${maps.S}) · output point (${maps.y}, ${maps.x})` +
      ` · partition ${h} x ${w} · ${noConv ? 'no conv branches' : `conv kernels up to ${maps.K} x ${maps.K}`}`,
  ];
  const legend = [
    `color: log10 |W|, viridis, ${scale === 'panel' ? 'per-panel scale (each heatmap spans its own range)' : 'shared scale (one range for both heatmaps)'}`,
    'red ring: the output point' + (win === null ? ''
      : reference ? ` · dashed box: a reference ${win.k} x ${win.k} window (the block has no conv branch)`
      : ` · white box: the ${win.k} x ${win.k} window of the largest conv kernel`),
  ];
  const stats = localityStats(maps, win);
  if (stats !== null) {
    const part = (name: string, s: WindowStats) =>
      `${name} ${s.ratio.toFixed(2)}x (${s.meanInside.toExponential(2)} / ${s.meanOutside.toExponential(2)})`;
    legend.push(`mean |W| inside / outside the window: ${part('before', stats.before)}, ${part('after', stats.after)}`);
  }

  const top = M + 18 * caption.length + 40;
  const textWidth = Math.max(...caption.map((t) => t.length * 6.6), ...legend.map((t) => t.length * 5.5));
  const width = Math.ceil(Math.max(M + 2 * blockW + GAP + (scale === 'shared' ? barBlock : 0), M + textWidth) + M);
  const height = top + ph + 16 + 18 * legend.length;
  const body: string[] = [
    el('defs', {}, el('linearGradient', { id: 'viridis', x1: 0, y1: 1, x2: 0, y2: 0 },
      ...VIRIDIS_STOPS.map((c, i) => el('stop', { offset: i / (VIRIDIS_STOPS.length - 1), 'stop-color': c })))),
    el('rect', { x: 0, y: 0, width, height, fill: 'white' }),
  ];
  caption.forEach((t, i) => body.push(text(t, { x: M, y: M + 4 + 18 * i, 'font-size': 13, 'font-weight': i === 0 ? 'bold' : undefined })));

  const colorBar = (x: number, r: Range) => {
    const parts = [
      text('|W|', { x, y: top - 6, 'font-size': 11 }),
      el('rect', { x, y: top, width: BAR_W, height: ph, fill: 'url(#viridis)', stroke: '#333', 'stroke-width': 0.5 }),
    ];
    for (const v of logTicks(r)) {
      const ty = top + ph * (1 - (v - r.lo) / (r.hi - r.lo));
      parts.push(el('line', { x1: x + BAR_W, y1: ty, x2: x + BAR_W + 4, y2: ty, stroke: '#333' }));
      parts.push(text(magnitude(v), { x: x + BAR_W + 6, y: ty + 4, 'font-size': 11, class: 'tick' }));
    }
    return el('g', { class: 'colorbar' }, ...parts);
  };

  [maps.before, maps.after].forEach((m, p) => {
    const x0 = M + p * (blockW + GAP);
    const r = ranges[scale === 'panel' ? p : 0];
    body.push(text(titles[p], { x: x0, y: top - 22, 'font-size': 14 }));
    const cells: string[] = [];
    for (let yy = 0; yy < h; yy++)
      for (let xx = 0; xx < w; xx++) {
        const a = Math.abs(m[yy * w + xx]);
        const t = a > 0 ? (Math.log10(a) - r.lo) / (r.hi - r.lo) : 0;
        cells.push(el('rect', { class: 'cell', x: x0 + xx * cell, y: top + yy * cell, width: cell, height: cell, fill: viridis(t) },
          el('title', {}, escapeXml(`(${yy}, ${xx}) |W| = ${fmt(a)}`))));
      }
    body.push(el('g', { 'shape-rendering': 'crispEdges' }, ...cells));
    if (win !== null)
      body.push(el('rect', {
        class: 'window', x: x0 + win.x0 * cell, y: top + win.y0 * cell, width: (win.x1 - win.x0) * cell, height: (win.y1 - win.y0) * cell,
        fill: 'none', stroke: 'white', 'stroke-width': 2, 'stroke-dasharray': reference ? '5 3' : undefined,
      }));
    body.push(el('circle', {
      class: 'point', cx: x0 + (maps.x + 0.5) * cell, cy: top + (maps.y + 0.5) * cell, r: Math.max(3, cell * 0.3),
      fill: 'none', stroke: '#ff2020', 'stroke-width': 2,
    }));
    if (scale === 'panel') body.push(colorBar(x0 + pw + 10, r));
  });
  if (scale === 'shared') body.push(colorBar(M + 2 * blockW + GAP + 10, ranges[0]));

  legend.forEach((t, i) => body.push(text(t, { x: M, y: top + ph + 22 + 18 * i, 'font-size': 11, class: i === 2 ? 'stats' : 'legend' })));
  return svgDocument(width, height, body);
}

