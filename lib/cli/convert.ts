// `repmlp convert <in> <out.safetensors | out.pth> --arch <preset | config.json>`: training-form
// weights (.safetensors or PyTorch .pth) to the deploy form by Locality Injection, written
// as safetensors or as a torch.save file (by the output's extension).
import { RepMLPNet } from '../models/repmlpnet';
import { parameterCount } from '../models/shapes';
import { writePth } from '../io/pth-write';
import { writeSafetensors, type HostTensor } from '../io/safetensors';
import { partitionOrderHelp } from './arch';
import { clearStaleTemps, UsageError, type Command } from './command';
import { emaHelp, modelSource, resolveModel, WEIGHTS_OPTIONS } from './weights';

const usage = `Usage: repmlp convert <in.safetensors | in.pth> <out.safetensors | out.pth> --arch <preset | config.json>

Loads the weights of a RepMLPNet strictly (every key, no extra ones): a state dict, or a
training checkpoint (repmlp's, or the reference code's {'model': ..., 'optimizer': ...,
'config': ...}; {'state_dict': ...} wrappers and DataParallel's 'module.' prefixes too).
Training-form weights are converted by Locality Injection; deploy-form weights (fc3 with a
bias, no fc3_bn or conv branches) are written as they are. The output is written
atomically: a .pth file (torch.save's zip format, which torch.load(..., weights_only=True)
and the reference code's load_state_dict read) when its name ends in .pth or .pt, else
safetensors.

Options:
  --arch <a>             a preset (RepMLPNet-T224, ..., cifar, small) or a JSON file of config
                         fields (repmlp's inChannels, numClasses, patchSize, numBlocks, channels,
                         hs, ws, sharesetsNums, reparamConvK, globalPerceptronReduce, or the
                         reference code's in_channels, num_class, patch_size, ...)
${partitionOrderHelp(25)}
${emaHelp(25)}
  -h, --help             show this help`;

/** .pth / .pt: a torch.save file; anything else: safetensors. */
function writeWeights(output: string, state: Map<string, HostTensor>, arch: string): void {
  if (/\.(pth|pt)$/i.test(output)) writePth(output, state);
  else writeSafetensors(output, state, { metadata: { format: 'pt', arch, form: 'deploy' } });
}

export const command: Command = {
  name: 'convert',
  usage,
  options: WEIGHTS_OPTIONS,
  maxPositional: 2,
  run(cl, io) {
    if (cl.positional.length < 2) throw new UsageError('convert: expected an input checkpoint and an output file (.safetensors or .pth)');
    const [input, output] = cl.positional;
    const start = process.hrtime.bigint();
    // The preset as named: weights of other channels or classes are an error listing every key that differs.
    const src = { ...modelSource('convert', cl.values, input), fit: 'preset' as const, archRequired: true };
    const { state, config, form, archName } = resolveModel('convert', src);
    clearStaleTemps(output, io);
    const model = new RepMLPNet({ ...config, deploy: form === 'deploy' });
    try {
      model.loadStateDict(state);
      model.eval();
      model.localityInjection();
      const deploy = model.stateDict();
      writeWeights(output, deploy, archName ?? '');
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const params = parameterCount({ ...config, deploy: true });
      const how = form === 'deploy' ? ' (already in the deploy form: written as it is)' : '';
      io.out(`converted ${input} -> ${output}: ${state.size} keys in, ${deploy.size} keys out, ${params} parameters (deploy form)${how}, ${seconds.toFixed(2)} s\n`);
    } finally {
      model.dispose();
    }
    return 0;
  },
};
