// Grouped bar charts as SVG (no dependency; elements from lib/viz/svg.ts): one group of bars
// per category (a shape, a model), one bar colour per series (repmlp, PyTorch, ...), a linear
// or logarithmic value axis with gridlines, and a legend. Missing values leave a gap in their
// group.
import { el, escapeXml, svgDocument, text } from '../../lib/viz/svg';

export interface BarChart {
  title: string;
  /** the value axis label, e.g. 'GFLOP/s' */
  yLabel: string;
  /** category names along the x axis */
  groups: readonly string[];
  /** one bar per group per series; values[i] belongs to groups[i] (null: no bar) */
  series: readonly { name: string; values: readonly (number | null)[] }[];
  /** logarithmic value axis (for values that span decades) */
  log?: boolean;
  /** a note under the chart, e.g. the machine and the command */
  note?: string;
}

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];

/** Round tick values covering [0, max] (linear) or the decades around [min, max] (log). */
export function axisTicks(min: number, max: number, log: boolean): number[] {
  if (log) {
    // a value on an exact decade still gets a visible bar: the axis starts a decade lower
    const lo = Math.floor(Math.log10(min) - 1e-9), hi = Math.ceil(Math.log10(max));
    return Array.from({ length: hi - lo + 1 }, (_, i) => 10 ** (lo + i));
  }
  const rough = max / 5;
  const mag = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= rough)!;
  const n = Math.ceil(max / step - 1e-9);
  return Array.from({ length: n + 1 }, (_, i) => Number((i * step).toPrecision(12)));
}

function tickText(v: number): string {
  if (v === 0) return '0';
  if (Math.abs(v) >= 1e4 || Math.abs(v) < 1e-2) return v.toExponential(0);
  return String(Number(v.toPrecision(3)));
}

export function barChartSvg(chart: BarChart): string {
  for (const s of chart.series)
    if (s.values.length !== chart.groups.length)
      throw new Error(`barChartSvg: expected ${chart.groups.length} values (one per group) for series '${s.name}' but received ${s.values.length}`);
  const values = chart.series.flatMap((s) => s.values).filter((v): v is number => v !== null && Number.isFinite(v) && (!chart.log || v > 0));
  const log = chart.log ?? false;
  const vmax = values.length ? Math.max(...values) : 1;
  const vmin = values.length ? Math.min(...values) : 1;
  const ticks = axisTicks(log ? vmin : 0, vmax > 0 ? vmax : 1, log);
  const lo = ticks[0], hi = ticks[ticks.length - 1];

  const barW = 14, gap = 18, left = 70, top = 40, plotH = 260;
  const groupW = chart.series.length * barW + gap;
  const plotW = Math.max(groupW * chart.groups.length, 240);
  const legendH = 18 * chart.series.length;
  // group labels are rotated 30 degrees: about 5.5 px right and 3.2 px down per character
  const longest = Math.max(0, ...chart.groups.map((g) => g.length));
  const width = Math.max(left + plotW + Math.max(20, longest * 5.5 - groupW / 2), chart.title.length * 8 + 20);
  const labelsH = 24 + longest * 3.2;
  const height = top + plotH + labelsH + legendH + (chart.note ? 34 : 14);
  const y = (v: number) => {
    const f = log ? (Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo)) : (v - lo) / (hi - lo);
    return top + plotH - f * plotH;
  };

  const out: string[] = [];
  out.push(el('rect', { width, height, fill: '#ffffff' }));
  out.push(text(chart.title, { x: width / 2, y: 20, 'text-anchor': 'middle', 'font-size': 14, 'font-weight': 'bold' }));
  for (const t of ticks) {
    out.push(el('line', { x1: left, x2: left + plotW, y1: y(t), y2: y(t), stroke: '#dddddd' }));
    out.push(text(tickText(t), { x: left - 6, y: y(t), 'text-anchor': 'end', 'dominant-baseline': 'middle', 'font-size': 11 }));
  }
  out.push(text(chart.yLabel + (log ? ' (log scale)' : ''), { transform: `translate(16 ${top + plotH / 2}) rotate(-90)`, 'text-anchor': 'middle', 'font-size': 11 }));
  out.push(el('line', { x1: left, x2: left, y1: top, y2: top + plotH, stroke: '#333333' }));
  out.push(el('line', { x1: left, x2: left + plotW, y1: top + plotH, y2: top + plotH, stroke: '#333333' }));
  chart.groups.forEach((g, gi) => {
    const gx = left + gi * groupW + gap / 2;
    chart.series.forEach((s, si) => {
      const v = s.values[gi];
      if (v === null || !Number.isFinite(v) || (log && v <= 0)) return;
      const by = y(v), base = y(lo);
      const bar = { x: gx + si * barW, y: by, width: barW - 2, height: Math.max(base - by, 0), fill: PALETTE[si % PALETTE.length] };
      out.push(el('rect', bar, el('title', {}, escapeXml(`${s.name}, ${g}: ${tickText(v)}`))));
    });
    const cx = gx + (chart.series.length * barW) / 2;
    out.push(text(g, { transform: `translate(${cx.toFixed(1)} ${top + plotH + 12}) rotate(30)`, 'text-anchor': 'start', 'font-size': 11 }));
  });
  const ly = top + plotH + labelsH;
  chart.series.forEach((s, si) => {
    out.push(el('rect', { x: left, y: ly + si * 18, width: 12, height: 12, fill: PALETTE[si % PALETTE.length] }));
    out.push(text(s.name, { x: left + 18, y: ly + si * 18 + 10, 'font-size': 11 }));
  });
  if (chart.note) out.push(text(chart.note, { x: left, y: ly + legendH + 14, fill: '#555555', 'font-size': 11 }));
  return svgDocument(width, height, out);
}
