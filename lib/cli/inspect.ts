// `repmlp inspect <file> [--json]`: what a checkpoint holds (a .pth of either format, a
// safetensors file): its entries, the state dict's tensors, epoch and accuracy, the training
// config's fields, and which RepMLPNet (a preset, or the config the keys imply) it is.
// Nothing in the file is run, and no tensor's elements are read.
import { flags } from './args';
import { UsageError, type Command } from './command';
import type { FileContents } from './inspect-file';
import { checkExists } from './options';

const usage = `Usage: repmlp inspect <file> [--json]

Prints what a weights file holds without running anything in it: a PyTorch .pth (torch.save's
zip format or the legacy one; a state dict, a training checkpoint such as the reference
code's {'model', 'optimizer', 'lr_scheduler', 'max_accuracy', 'epoch', 'config', 'amp', 'ema'},
or a pickled model) or a .safetensors file (a state dict, or a checkpoint of repmlp train).
Shown: the top-level entries, where the state dict is and its tensors (dtype and shape), the
epoch, accuracies and other scalars, the training config's fields, whether an EMA of the
weights is kept, and the architecture the keys match: a preset, or the config they imply.

Options:
  --json      print everything as JSON (a .pth's whole object graph under "object")
  -h, --help  show this help`;

function architectureLines(c: FileContents): string[] {
  const a = c.architecture;
  if (a.config === null) return [`architecture: ${a.problem}`];
  const matches = a.presets.length ? `preset ${a.presets.join(', ')}` : 'no preset';
  const { deploy: _, ...config } = a.config;
  return [
    `architecture: ${a.form} form, ${matches}; the keys imply`,
    `  ${JSON.stringify(config)}`,
    ...a.notes.map((n) => `  (${n})`),
  ];
}

function report(c: FileContents): string {
  const width = Math.max(0, ...c.stateDict.tensors.map((t) => t.name.length));
  const elements = c.stateDict.tensors.reduce((n, t) => n + t.shape.reduce((a, d) => a * d, 1), 0);
  const lines = [
    `${c.file}: ${c.format}`,
    ...(c.entries.length ? ['entries:', ...c.entries.map((e) => `  ${e.key}: ${e.summary}`)] : []),
    `state dict (${c.stateDict.at}): ${c.stateDict.tensors.length} tensors, ${elements} elements`,
    ...c.stateDict.tensors.map((t) => `  ${t.name.padEnd(width)}  ${t.dtype} [${t.shape.join(', ')}]`),
    `EMA of the weights: ${c.ema ? `${c.ema.at}, ${c.ema.tensors} tensors` : 'none'}`,
    ...(c.config ? [`config (${c.config.class}):`, ...Object.entries(c.config.fields).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`)] : []),
    ...architectureLines(c),
  ];
  return lines.join('\n') + '\n';
}

export const command: Command = {
  name: 'inspect',
  usage,
  options: flags('json'),
  maxPositional: 1,
  run(cl, io) {
    const file = cl.positional[0];
    if (file === undefined) throw new UsageError('inspect: expected a file to inspect');
    checkExists('inspect', file);
    const { fileContents } = require('./inspect-file') as typeof import('./inspect-file');
    const c = fileContents(file);
    io.out(cl.values.json === true ? JSON.stringify(c, null, 2) + '\n' : report(c));
    return 0;
  },
};
