// `repmlp export-onnx --arch <a> --weights <f> <out.onnx> [--input-size N | HxW]`: weights in
// either form (told apart by their keys) to an ONNX model of the deploy form.
import type { OnnxSummary } from '../onnx/export';
import { warningLine } from '../errors';
import { valued } from './args';
import { partitionOrderHelp } from './arch';
import { clearStaleTemps, type Command } from './command';
import { checkExists, inputSizeOption } from './options';
import { emaHelp, modelSource, resolveModel, weightsAndOutput, WEIGHTS_OPTIONS } from './weights';

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
                    Default for a training checkpoint: the config saved in it (or the
                    preset a reference-code checkpoint's config names)
${partitionOrderHelp(20)}
  --weights <f>     the weights (required)
${emaHelp(20)}
  --input-size <s>  input height and width, N or HxW (default: the config's, hs[0] * patchSize);
                    a larger map is cut into several partitions per block
  -h, --help        show this help`;

function formatBytes(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${(n / 1e3).toFixed(1)} kB`;
}

export const command: Command = {
  name: 'export-onnx',
  usage,
  options: { ...WEIGHTS_OPTIONS, ...valued('weights', 'input-size') },
  maxPositional: 1,
  run(cl, io) {
    const v = cl.values;
    const { weights, output } = weightsAndOutput('export-onnx', cl, 'an output .onnx file');
    const inputSize = inputSizeOption('export-onnx', v);
    checkExists('export-onnx', weights);

    const { RepMLPNet } = require('../models/repmlpnet') as typeof import('../models/repmlpnet');
    const { writeOnnx } = require('../onnx/export') as typeof import('../onnx/export');
    const { onnxInputSize } = require('../onnx/options') as typeof import('../onnx/options');

    clearStaleTemps(output, io);
    const start = process.hrtime.bigint();
    const { state, config, form, archName, fromCheckpoint } = resolveModel('export-onnx', modelSource('export-onnx', v, weights));
    const name = fromCheckpoint ? "the checkpoint's config" : archName;
    const [H, W] = onnxInputSize(config, inputSize, 'export-onnx');
    const model = new RepMLPNet({ ...config, deploy: form === 'deploy' });
    let summary: OnnxSummary;
    try {
      model.loadStateDict(state);
      model.eval();
      // a training-form model converts in place here: it is ours and not used afterwards
      if (form === 'train') model.localityInjection();
      summary = writeOnnx(output, model, { inputSize: [H, W], onWarning: (m) => io.err(warningLine(m)) });
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
