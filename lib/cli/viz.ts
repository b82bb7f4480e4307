// `repmlp viz --weights <file> [--arch <a>] [--stage i --block j --channel c --point y,x] <out.svg>`:
// the FC3 locality picture (the paper's Figure 3) of one output point of one RepMLP block.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RepmlpError } from '../errors';
import { removeStaleTemps, writeFileAtomic } from '../io/atomic';
import { preset, presetNames, type PresetName } from '../models/presets';
import type { RepMLPNetConfig } from '../models/repmlpnet';
import type { LocalityMaps, LocalityStats, LocalitySummary, WindowStats } from '../viz/locality';
import { fitPresetToWeights, intOption, parseOptions, resolveArch, type Options } from './arch';
import { UsageError, type Command } from './command';
import { weightsForm } from './eval';

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

function rangeOption(opts: Options, name: string, dflt: number, n: number, what: string): number {
  const v = intOption('viz', opts, name, dflt);
  if (v >= n) throw new UsageError(`viz: expected ${what} in [0, ${n - 1}] for --${name} but received ${v}`);
  return v;
}

export const command: Command = {
  name: 'viz',
  usage,
  run(args, io) {
    const opts = parseOptions('viz', args, ['weights', 'arch', 'stage', 'block', 'channel', 'point', 'window', 'scale'], ['json'], 1);
    if (opts.flags.has('help')) {
      io.out(usage + '\n');
      return 0;
    }
    const weights = opts.values.get('weights');
    if (weights === undefined) throw new UsageError('viz: --weights <file> is required');
    if (opts.positional.length < 1) throw new UsageError('viz: expected an output file <out.svg>');
    const output = opts.positional[0];
    if (!output.toLowerCase().endsWith('.svg')) throw new UsageError(`viz: expected a file name ending in .svg for <out.svg> but received '${output}'`);
    const scale = opts.values.get('scale') ?? 'panel';
    if (scale !== 'panel' && scale !== 'shared') throw new UsageError(`viz: expected panel or shared for --scale but received '${scale}'`);
    const archValue = opts.values.get('arch');
    if (!fs.existsSync(weights)) throw new RepmlpError(`viz: ${weights} does not exist`);

    removeStaleTemps(path.dirname(path.resolve(output)), { base: path.basename(output), report: (t) => io.err(t) });
    const ck = require('../train/checkpoint') as typeof import('../train/checkpoint');
    const { state, config: saved, arch: savedArch } = ck.readModelWeights(weights);
    if (weightsForm(state) === 'deploy')
      throw new RepmlpError(`viz: expected training-form weights (fc3 with fc3_bn and the conv branches) for --weights but received a deploy-form state dict in ${weights}: Locality Injection has already merged them, so there is no "before" to show`);
    let config: RepMLPNetConfig;
    if (archValue === undefined) {
      if (!saved) throw new UsageError('viz: --arch <preset | config.json> is required for weights that are not a training checkpoint');
      config = saved;
    } else if ((presetNames as string[]).includes(archValue)) config = fitPresetToWeights(preset(archValue as PresetName), state);
    else config = resolveArch('viz', archValue).config;

    // The choices, checked against the config before anything is built.
    const stage = rangeOption(opts, 'stage', 0, config.numBlocks.length, 'a stage index');
    const block = rangeOption(opts, 'block', 0, config.numBlocks[stage], `a block index of stage ${stage}`);
    const C = config.channels[stage], h = config.hs[stage], w = config.ws[stage];
    const channel = rangeOption(opts, 'channel', 0, C, `a channel of stage ${stage} (${C} channels)`);
    let y = h >> 1, x = w >> 1;
    const point = opts.values.get('point');
    if (point !== undefined) {
      const m = /^(\d+),(\d+)$/.exec(point);
      if (!m || Number(m[1]) >= h || Number(m[2]) >= w)
        throw new UsageError(`viz: expected y,x with 0 <= y < ${h} and 0 <= x < ${w} (the ${h} x ${w} partition of stage ${stage}) for --point but received '${point}'`);
      y = Number(m[1]);
      x = Number(m[2]);
    }
    const K = config.reparamConvK.length ? Math.max(...config.reparamConvK) : null;
    const windowK = intOption('viz', opts, 'window', K ?? 3, 1);
    if (windowK % 2 === 0) throw new UsageError(`viz: expected an odd window size for --window but received ${windowK}`);

    const { RepMLPNet } = require('../models/repmlpnet') as typeof import('../models/repmlpnet');
    const viz = require('../viz/index') as typeof import('../viz/index');
    const model = new RepMLPNet({ ...config, deploy: false });
    let maps: LocalityMaps, summary: LocalitySummary;
    try {
      model.loadStateDict(state);
      maps = viz.fc3LocalityMaps(model, { stage, block, channel, y, x });
      summary = viz.fc3LocalitySummary(model, { stage, block, window: windowK });
    } finally {
      model.dispose();
    }
    const win = viz.kernelWindow(h, w, y, x, windowK);
    const label = `${archValue ?? savedArch ?? 'checkpoint config'} · ${weights}`;
    const svg = viz.renderLocalitySvg(maps, { scale, window: win, label });
    writeFileAtomic(output, svg, 'viz');
    const stats = viz.localityStats(maps, win)!;
    const r: VizResult = {
      weights, output, stage, block, channel, shareSet: maps.shareSet, S: maps.S, h, w, point: [y, x], K: maps.K, bnScale: maps.bnScale, stats, summary,
    };
    if (opts.flags.has('json')) io.out(JSON.stringify(r, null, 2) + '\n');
    else {
      const line = (name: string, s: WindowStats) =>
        `  ${name.padEnd(6)} inside ${s.meanInside.toExponential(3)}  outside ${s.meanOutside.toExponential(3)}  ratio ${s.ratio.toFixed(2)}`;
      const kind = K === null ? `reference ${windowK} x ${windowK} window (no conv branches)` : `${windowK} x ${windowK} window`;
      io.out(
        [
          `stages.${stage}.${block}.repmlp_block: C ${C}, S ${maps.S}, partition ${h} x ${w}, conv kernels ${config.reparamConvK.length ? config.reparamConvK.join(', ') : 'none'}`,
          `channel ${channel} (share-set ${maps.shareSet}), output point (${y}, ${x}): fc3.weight row ${maps.row}, fc3_bn scale ${maps.bnScale.toFixed(4)}`,
          `mean |W| in the ${kind}:`,
          line('before', stats.before),
          line('after', stats.after),
          `pooled over all ${summary.rows} output points of the block (S x h x w), each with its own window:`,
          line('before', summary.before),
          line('after', summary.after),
          `wrote ${output}`,
        ].join('\n') + '\n',
      );
    }
    return 0;
  },
};
