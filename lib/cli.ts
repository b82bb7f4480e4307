#!/usr/bin/env node
// The `repmlp` command: `repmlp <command> [options]`. Each command lives in lib/cli/<name>.ts
// and is loaded (required) only when it runs, so `repmlp --help` works even where the
// native addon does not load. Exit codes: 0 success, 1 failure, 2 bad command line.
import type { Command, Io } from './cli/command';
import { UsageError } from './cli/command';
import { parseCommandLine } from './cli/args';

interface Entry {
  /** the command's name, also its file in lib/cli/ */
  name: string;
  summary: string;
}

const commands: readonly Entry[] = [
  { name: 'info', summary: 'show the version, the backends, CUDA devices and cuBLAS' },
  { name: 'inspect', summary: 'show what a checkpoint holds: entries, tensors, epoch, config, architecture' },
  { name: 'convert', summary: 'convert training-form weights (.safetensors or .pth) to the deploy form (.safetensors or .pth)' },
  { name: 'verify', summary: 'check that Locality Injection keeps the logits; print params and FLOPs' },
  { name: 'export-onnx', summary: 'export weights (either form) to an ONNX model of the deploy form (opset 17)' },
  { name: 'train', summary: 'train RepMLPNet on Fashion-MNIST, CIFAR or an image folder (checkpoints, resume, deploy form)' },
  { name: 'eval', summary: 'top-1 and top-5 test accuracy of training-form or deploy-form weights' },
  { name: 'predict', summary: 'classify image files or folders with trained weights (top classes and probabilities)' },
  { name: 'viz', summary: 'draw the FC3 locality picture (weights before / after Locality Injection) as SVG' },
];

/** The command's module, loaded (required) only when it runs or shows its usage. */
function load(entry: Entry): Command {
  return (require(`./cli/${entry.name}`) as { command: Command }).command;
}

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'Usage: repmlp <command> [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Options:',
    '  -h, --help     show this help (or `repmlp <command> --help`)',
    '  -v, --version  print the version',
  ].join('\n');
}

function version(): string {
  return (require('./info') as typeof import('./info')).packageVersion();
}

/** Runs the command line `argv` (without node and the script); returns the exit code. */
export async function main(argv: string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.err(usage() + '\n');
    return 2;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? commands.find((c) => c.name === rest[0]) : undefined;
    io.out((topic ? load(topic).usage : usage()) + '\n');
    return 0;
  }
  if (name === '--version' || name === '-v') {
    io.out(version() + '\n');
    return 0;
  }
  const entry = commands.find((c) => c.name === name);
  if (!entry) {
    io.err(`repmlp: ${name.startsWith('-') ? 'unknown option' : 'unknown command'} '${name}'\n\n${usage()}\n`);
    return 2;
  }
  const command = load(entry);
  try {
    const cl = parseCommandLine(command.name, rest, command.options, command.maxPositional);
    if (cl.help) {
      io.out(command.usage + '\n');
      return 0;
    }
    return await command.run(cl, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`repmlp ${e.message}\n\n${command.usage}\n`);
      return 2;
    }
    throw e;
  }
}

if (require.main === module) {
  const io: Io = {
    out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t),
    isTty: process.stdout.isTTY === true, errIsTty: process.stderr.isTTY === true,
  };
  main(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`repmlp: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
