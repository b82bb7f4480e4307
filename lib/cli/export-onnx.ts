// `repmlp export-onnx --arch <a> --weights <f> <out.onnx> [--input-size N | HxW]`: weights in
// either form (told apart by their keys) to an ONNX model of the deploy form.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RepmlpError } from '../errors';
import { removeStaleTemps } from '../io/atomic';
import { presetNames } from '../models/presets';
import type { RepMLPNetConfig } from '../models/repmlpnet';
import type { OnnxSummary } from '../onnx/export';
import { fitPresetToWeights, parseOptions, resolveArch } from './arch';
import { UsageError, type Command } from './command';
import { weightsForm } from './eval';

const usage = `Usage: repmlp export-onnx --arch <preset | config.json> --weights <file> <out.onnx> [--input-size N | HxW]

Writes an ONNX model (opset 17, standard operators only) of a RepMLPNet's deploy form, in
eval mode, to <out.onnx> (atomically). The weights may be a training-form or a deploy-form
state dict (.safetensors or PyTorch .pth; fc3_bn / repconv keys mean the training form,
which is converted by Locality Injection first) or a training checkpoint written by
\`repmlp train\`. The graph takes 'input' [batch, C, H, W] with a symbolic batch and gives
'logits' [batch, classes].

Options:
  --arch <a>        a preset (RepMLPNet-T224, ..., cifar, small) or a JSON file of config
                    fields; a preset takes its input channels and classes from the weights.
                    Default for a training checkpoint: the config saved in it
  --weights <f>     the weights (required)
  --input-size <s>  input height and width, N or HxW (default: the config's, hs[0] * patchSize);
                    a larger map is cut into several partitions per block
  -h, --help        show this help`;

/** `N` or `HxW` as [H, W]. */
function parseInputSize(v: string | undefined): [number, number] | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d+)(?:x(\d+))?$/.exec(v);
  if (!m) throw new UsageError(`export-onnx: expected N or HxW (e.g. 224 or 64x96) for --input-size but received '${v}'`);
  return [Number(m[1]), Number(m[2] ?? m[1])];
}

function formatBytes(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${(n / 1e3).toFixed(1)} kB`;
}

export const command: Command = {
  name: 'export-onnx',
  usage,
  run(args, io) {
    const opts = parseOptions('export-onnx', args, ['arch', 'weights', 'input-size'], [], 1);
    if (opts.flags.has('help')) {
      io.out(usage + '\n');
      return 0;
    }
    const weights = opts.values.get('weights');
    if (weights === undefined) throw new UsageError('export-onnx: --weights <file> is required');
    if (opts.positional.length < 1) throw new UsageError('export-onnx: expected an output .onnx file');
    const output = opts.positional[0];
    const inputSize = parseInputSize(opts.values.get('input-size'));
    const archValue = opts.values.get('arch');
    if (!fs.existsSync(weights)) throw new RepmlpError(`export-onnx: ${weights} does not exist`);

    const ck = require('../train/checkpoint') as typeof import('../train/checkpoint');
    const { RepMLPNet } = require('../models/repmlpnet') as typeof import('../models/repmlpnet');
    const { writeOnnx } = require('../onnx/export') as typeof import('../onnx/export');
    const { onnxInputSize } = require('../onnx/options') as typeof import('../onnx/options');

    removeStaleTemps(path.dirname(path.resolve(output)), { base: path.basename(output), report: (t) => io.err(t) });
    const start = process.hrtime.bigint();
    const { state, config: saved } = ck.readModelWeights(weights);
    let name: string, config: RepMLPNetConfig;
    if (archValue !== undefined) {
      const arch = resolveArch('export-onnx', archValue);
      name = arch.name;
      config = (presetNames as string[]).includes(archValue) ? fitPresetToWeights(arch.config, state) : arch.config;
    } else if (saved) {
      name = 'the checkpoint\'s config';
      config = saved;
    } else {
      throw new UsageError('export-onnx: --arch <preset | config.json> is required for weights that are not a training checkpoint');
    }
    const [H, W] = onnxInputSize(config, inputSize, 'export-onnx');
    const form = weightsForm(state);
    const model = new RepMLPNet({ ...config, deploy: form === 'deploy' });
    let summary: OnnxSummary;
    try {
      model.loadStateDict(state);
      model.eval();
      // a training-form model converts in place here: it is ours and not used afterwards
      if (form === 'train') model.localityInjection();
      summary = writeOnnx(output, model, { inputSize: [H, W] });
    } finally {
      model.dispose();
    }
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const dims = (d: (number | string)[]) => `[${d.join(', ')}]`;
    io.out(
      [
        `${weights}: ${form} form${form === 'train' ? ' (converted by Locality Injection)' : ''}, ${name}`,
        `${summary.input.name} ${dims(summary.input.dims)} -> ${summary.output.name} ${dims(summary.output.dims)}, opset ${summary.opset}, ${summary.parameters} parameters`,
        `${summary.nodes} nodes: ${summary.ops.map(([op, n]) => `${op} ${n}`).join(', ')}`,
        `wrote ${output}: ${formatBytes(summary.bytes)} in ${seconds.toFixed(2)} s`,
      ].join('\n') + '\n',
    );
    return 0;
  },
};
