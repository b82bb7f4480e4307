// `repmlp convert <in> <out.safetensors> --arch <preset | config.json>`: a training-form
// checkpoint (.safetensors or PyTorch .pth) to the deploy form by Locality Injection.
import { buildModel, familyOf } from '../models/families';
import { writeSafetensors } from '../io/safetensors';
import { valued } from './args';
import { clearStaleTemps, UsageError, type Command } from './command';
import { stringOption } from './options';
import { resolveModel } from './weights';

const usage = `Usage: repmlp convert <in.safetensors | in.pth> <out.safetensors> --arch <preset | config.json>

Loads the training-form weights of a model (strictly: every key, no extra ones; a
PyTorch checkpoint may wrap them in {'model': ...} or {'state_dict': ...} and carry
DataParallel's 'module.' prefixes), runs Locality Injection and writes the deploy-form
state dict (RepMLPNet: fc3 with a bias, no fc3_bn or conv branches; RepMLP-ResNet and the
CIFAR models: every BN folded as well) to <out.safetensors>, atomically.

Options:
  --arch <a>  a preset (RepMLPNet-T224, ..., cifar, small, RepMLP-Res50-Light-224,
              RepMLP-CIFAR-MLP, ...) or a JSON file of config fields (RepMLPNet's:
              inChannels, numClasses, patchSize, numBlocks, channels, hs, ws,
              sharesetsNums, reparamConvK, globalPerceptronReduce; another family's
              with its "arch", see docs/MODELS.md)
  -h, --help  show this help`;

export const command: Command = {
  name: 'convert',
  usage,
  options: valued('arch'),
  maxPositional: 2,
  run(cl, io) {
    if (cl.positional.length < 2) throw new UsageError('convert: expected an input checkpoint and an output .safetensors file');
    const [input, output] = cl.positional;
    const start = process.hrtime.bigint();
    // The preset as named: weights of other channels or classes are an error listing every key that differs.
    const { state, config, archName } = resolveModel('convert', { weights: input, arch: stringOption(cl.values, 'arch'), fit: 'preset', archRequired: true });
    clearStaleTemps(output, io);
    const model = buildModel({ ...config, deploy: false });
    try {
      model.loadStateDict(state);
      model.eval();
      model.localityInjection();
      const deploy = model.stateDict();
      writeSafetensors(output, deploy, { metadata: { format: 'pt', arch: archName ?? '', form: 'deploy' } });
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const params = familyOf(config).cost({ ...config, deploy: true }).params;
      io.out(`converted ${input} -> ${output}: ${state.size} keys in, ${deploy.size} keys out, ${params} parameters (deploy form), ${seconds.toFixed(2)} s\n`);
    } finally {
      model.dispose();
    }
    return 0;
  },
};
