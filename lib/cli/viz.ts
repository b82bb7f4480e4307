// `repmlp viz --weights <file> [--arch <a>] [--stage i --block j --channel c --point y,x] <out.svg>`:
// the FC3 locality picture (the paper's Figure 3) of one output point of one RepMLP block.
import { RepmlpError } from '../errors';
import { writeFileAtomic } from '../io/atomic';
import type { RepMLPNetConfig } from '../models/repmlpnet';
import type { LocalityMaps, LocalityOptions, LocalityStats, LocalitySummary, WindowStats } from '../viz/locality';
import { flags, valued, type Values } from './args';
import { clearStaleTemps, UsageError, type Command } from './command';
import { partitionOrderHelp } from './arch';
import { checkExists, choiceOption, intOption, stringOption } from './options';
import { emaHelp, modelSource, resolveModel, weightsAndOutput, WEIGHTS_OPTIONS, type ResolvedModel } from './weights';

const usage = `Usage: repmlp viz --weights <file> [--arch <preset | config.json>] [--stage i] [--block j]
                  [--channel c] [--point y,x] [--window k] [--scale panel|shared] [--json] <out.svg>

Draws the FC3 locality picture of the paper (Figure 3) for one output point (y, x) of
output channel c in the RepMLP block stages.i.j: two heatmaps of log10 |W| over the input
h x w partition, the row of the training-form fc3 weight ("FC3 before Locality
Injection") and the same row of the FC after Locality Injection ("merged FC after": fc3
with fc3_bn, the conv branches and their BNs merged in), with the output point ringed and
the K x K window of the largest conv kernel outlined. Prints the mean |W| inside and
outside the window for both, at that point and pooled over every output point of the
block. The weights must be in the training form (a deploy-form state dict has no
"before"); the merge runs on a copy.

Options:
  --weights <f>       training-form weights: a checkpoint written by \`repmlp train\` (its
                      config is used when --arch is not given) or a state dict
                      (.safetensors or PyTorch .pth)
  --arch <a>          a preset (small, cifar, RepMLPNet-T224, ...; input channels and classes
                      are read from the weights) or a config JSON file
${partitionOrderHelp(22)}
${emaHelp(22)}
  --stage <i>         stage index (default 0, the largest partition)
  --block <j>         block index within the stage (default 0)
  --channel <c>       output channel (default 0); it uses share-set c mod S
  --point <y,x>       output point in the partition (default the center: h/2,w/2 rounded down)
  --window <k>        the odd window size to outline and measure (default the largest conv
                      kernel; 3, drawn dashed as a reference, when the model has no conv branch)
  --scale <s>         panel (default): each heatmap has its own color range; shared: one range
  --json              print the numbers as JSON
  -h, --help          show this help`;

export interface VizResult {
  weights: string;
  output: string;
  stage: number;
  block: number;
  channel: number;
  shareSet: number;
  S: number;
  h: number;
  w: number;
  point: [number, number];
  /** the largest conv kernel, null without conv branches */
  K: number | null;
  /** fc3_bn's scale of the share-set (after = bnScale * before + the conv part) */
  bnScale: number;
  /** mean |W| inside / outside the window at the chosen output point */
  stats: LocalityStats;
  /** the same pooled over every output point of every share-set of the block */
  summary: LocalitySummary;
}

/** An index option in [0, n - 1] (default `dflt`); `what` names what it indexes. */
function rangeOption(v: Values, name: string, dflt: number, n: number, what: string): number {
  const i = intOption('viz', v, name) ?? dflt;
  if (i >= n) throw new UsageError(`viz: expected ${what} in [0, ${n - 1}] for --${name} but received ${i}`);
  return i;
}

/** Which block, channel and output point to draw, and the window; checked against the config before anything is built. */
interface Choice extends Required<LocalityOptions> {
  windowK: number;
  /** the largest conv kernel, null without conv branches */
  K: number | null;
}

function choose(v: Values, config: RepMLPNetConfig): Choice {
  const stage = rangeOption(v, 'stage', 0, config.numBlocks.length, 'a stage index');
  const block = rangeOption(v, 'block', 0, config.numBlocks[stage], `a block index of stage ${stage}`);
  const C = config.channels[stage], h = config.hs[stage], w = config.ws[stage];
  const channel = rangeOption(v, 'channel', 0, C, `a channel of stage ${stage} (${C} channels)`);
  let y = h >> 1, x = w >> 1;
  const point = stringOption(v, 'point');
  if (point !== undefined) {
    const m = /^(\d+),(\d+)$/.exec(point);
    if (!m || Number(m[1]) >= h || Number(m[2]) >= w)
      throw new UsageError(`viz: expected y,x with 0 <= y < ${h} and 0 <= x < ${w} (the ${h} x ${w} partition of stage ${stage}) for --point but received '${point}'`);
    y = Number(m[1]);
    x = Number(m[2]);
  }
  const K = config.reparamConvK.length ? Math.max(...config.reparamConvK) : null;
  const windowK = intOption('viz', v, 'window', { min: 1 }) ?? K ?? 3;
  if (windowK % 2 === 0) throw new UsageError(`viz: expected an odd window size for --window but received ${windowK}`);
  return { stage, block, channel, y, x, windowK, K };
}

/** The text output: the block, the point, and mean |W| inside and outside the window, at the point and pooled. */
function report(r: VizResult, config: RepMLPNetConfig, c: Choice, row: number): string {
  const line = (name: string, s: WindowStats) =>
    `  ${name.padEnd(6)} inside ${s.meanInside.toExponential(3)}  outside ${s.meanOutside.toExponential(3)}  ratio ${s.ratio.toFixed(2)}`;
  const kind = c.K === null ? `reference ${c.windowK} x ${c.windowK} window (no conv branches)` : `${c.windowK} x ${c.windowK} window`;
  return [
    `stages.${r.stage}.${r.block}.repmlp_block: C ${config.channels[r.stage]}, S ${r.S}, partition ${r.h} x ${r.w}, conv kernels ${config.reparamConvK.length ? config.reparamConvK.join(', ') : 'none'}`,
    `channel ${r.channel} (share-set ${r.shareSet}), output point (${c.y}, ${c.x}): fc3.weight row ${row}, fc3_bn scale ${r.bnScale.toFixed(4)}`,
    `mean |W| in the ${kind}:`,
    line('before', r.stats.before),
    line('after', r.stats.after),
    `pooled over all ${r.summary.rows} output points of the block (S x h x w), each with its own window:`,
    line('before', r.summary.before),
    line('after', r.summary.after),
    `wrote ${r.output}`,
  ].join('\n') + '\n';
}

/** The locality maps of the chosen point and the block's summary, from a model built on a copy of the weights. */
function localityOf(config: RepMLPNetConfig, state: ResolvedModel['state'], c: Choice): { maps: LocalityMaps; summary: LocalitySummary } {
  const { RepMLPNet } = require('../models/repmlpnet') as typeof import('../models/repmlpnet');
  const viz = require('../viz/index') as typeof import('../viz/index');
  const model = new RepMLPNet({ ...config, deploy: false });
  try {
    model.loadStateDict(state);
    return {
      maps: viz.fc3LocalityMaps(model, c),
      summary: viz.fc3LocalitySummary(model, { stage: c.stage, block: c.block, window: c.windowK }),
    };
  } finally {
    model.dispose();
  }
}

export const command: Command = {
  name: 'viz',
  usage,
  options: { ...WEIGHTS_OPTIONS, ...valued('weights', 'stage', 'block', 'channel', 'point', 'window', 'scale'), ...flags('json') },
  maxPositional: 1,
  run(cl, io) {
    const v = cl.values;
    const { weights, output } = weightsAndOutput('viz', cl, 'an output file <out.svg>');
    if (!output.toLowerCase().endsWith('.svg')) throw new UsageError(`viz: expected a file name ending in .svg for <out.svg> but received '${output}'`);
    const scale = choiceOption('viz', v, 'scale', ['panel', 'shared'] as const) ?? 'panel';
    checkExists('viz', weights);

    clearStaleTemps(output, io);
    const { state, config, form, archName } = resolveModel('viz', modelSource('viz', v, weights));
    if (form === 'deploy')
      throw new RepmlpError(`viz: expected training-form weights (fc3 with fc3_bn and the conv branches) for --weights but received a deploy-form state dict in ${weights}: Locality Injection has already merged them, so there is no "before" to show`);
    const c = choose(v, config);
    const { maps, summary } = localityOf(config, state, c);
    const viz = require('../viz/index') as typeof import('../viz/index');
    const win = viz.kernelWindow(config.hs[c.stage], config.ws[c.stage], c.y, c.x, c.windowK);
    const svg = viz.renderLocalitySvg(maps, { scale, window: win, label: `${archName ?? 'checkpoint config'} · ${weights}` });
    writeFileAtomic(output, svg, 'viz');
    const r: VizResult = {
      weights, output, stage: c.stage, block: c.block, channel: c.channel, shareSet: maps.shareSet, S: maps.S, h: config.hs[c.stage], w: config.ws[c.stage],
      point: [c.y, c.x], K: maps.K, bnScale: maps.bnScale, stats: viz.localityStats(maps, win)!, summary,
    };
    io.out(v.json === true ? JSON.stringify(r, null, 2) + '\n' : report(r, config, c, maps.row));
    return 0;
  },
};
