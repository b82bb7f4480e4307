// `repmlp convert <in> <out.safetensors> --arch <preset | config.json>`: a training-form
// checkpoint (.safetensors or PyTorch .pth) to the deploy form by Locality Injection.
import * as path from 'node:path';
import { removeStaleTemps } from '../io/atomic';
import { readStateDict } from '../pth';
import { RepMLPNet } from '../models/repmlpnet';
import { parameterCount } from '../models/presets';
import { writeSafetensors } from '../safetensors';
import type { Command } from './command';
import { parseOptions, resolveArch } from './arch';
import { UsageError } from './command';

const usage = `Usage: repmlp convert <in.safetensors | in.pth> <out.safetensors> --arch <preset | config.json>

Loads the training-form weights of a RepMLPNet (strictly: every key, no extra ones; a
PyTorch checkpoint may wrap them in {'model': ...} or {'state_dict': ...} and carry
DataParallel's 'module.' prefixes), runs Locality Injection and writes the deploy-form
state dict (fc3 with a bias, no fc3_bn or conv branches) to <out.safetensors>, atomically.

Options:
  --arch <a>  a preset (RepMLPNet-T224, ..., cifar, small) or a JSON file of config fields
              (inChannels, numClasses, patchSize, numBlocks, channels, hs, ws,
              sharesetsNums, reparamConvK, globalPerceptronReduce)
  -h, --help  show this help`;

export const command: Command = {
  name: 'convert',
  usage,
  run(args, io) {
    const opts = parseOptions('convert', args, ['arch'], [], 2);
    if (opts.flags.has('help')) {
      io.out(usage + '\n');
      return 0;
    }
    if (opts.positional.length < 2) throw new UsageError('convert: expected an input checkpoint and an output .safetensors file');
    const [input, output] = opts.positional;
    const arch = resolveArch('convert', opts.values.get('arch'));
    removeStaleTemps(path.dirname(path.resolve(output)), { base: path.basename(output), report: (t) => io.err(t) });
    const start = process.hrtime.bigint();
    const state = readStateDict(input);
    const model = new RepMLPNet({ ...arch.config, deploy: false });
    try {
      model.loadStateDict(state);
      model.eval();
      model.localityInjection();
      const deploy = model.stateDict();
      writeSafetensors(output, deploy, { metadata: { format: 'pt', arch: arch.name, form: 'deploy' } });
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const params = parameterCount({ ...arch.config, deploy: true });
      io.out(`converted ${input} -> ${output}: ${state.size} keys in, ${deploy.size} keys out, ${params} parameters (deploy form), ${seconds.toFixed(2)} s\n`);
    } finally {
      model.dispose();
    }
    return 0;
  },
};
