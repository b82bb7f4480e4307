// `repmlp info [--json]`: the version, the backends, the CUDA devices and cuBLAS.
import { chooseBackend } from '../backend';
import { info, type Info } from '../info';
import { flags } from './args';
import { table, type Command } from './command';

const usage = `Usage: repmlp info [--json]

Shows the repmlp version, the backend used when no device is named (and why), the CPU
backend (threads), and the CUDA backend: whether a device is usable (and why not), the
devices, driver and runtime versions, and where
cuBLAS was found (or every place it was looked for); then the engines of distributed
training: MPI (CPU tensors) and, in builds with CUDA, NCCL (CUDA tensors).

Options:
  --json      print the information as JSON
  -h, --help  show this help`;

function gib(bytes: number | null): string {
  return bytes === null ? '?' : `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}

/** Which backend `--device auto` and the trainer use, and why (an invalid REPMLP_DEVICE is reported, not thrown). */
function backendLine(i: Info): string {
  try {
    return chooseBackend(i, process.env.REPMLP_DEVICE).reason;
  } catch (e) {
    return `none: ${(e as Error).message}`;
  }
}

/** Where MPI and NCCL were found, or what to install. */
function distributedLines(i: Info): string[] {
  const { mpi, nccl } = i.distributed;
  const lines = [mpi.found
    ? `MPI: ${mpi.implementation} (${mpi.version ?? 'version unknown'}) at ${mpi.path}`
    : `MPI not found (${mpi.tried.length} place${mpi.tried.length === 1 ? '' : 's'} tried, listed by --json): distributed training on the CPU needs it;\n  \`apt-get install openmpi-bin libopenmpi-dev\`, or set REPMLP_MPI_PATH to libmpi.so.40 / libmpi.so.12 or its folder.`];
  if (!i.backends.cuda.compiled) return lines;
  lines.push(nccl.found
    ? `NCCL ${nccl.version ?? '(version unknown)'} at ${nccl.path}`
    : `NCCL not found (${nccl.tried.length} place${nccl.tried.length === 1 ? '' : 's'} tried, listed by --json): distributed training on CUDA needs it;\n  \`pip install nvidia-nccl-cu12\`, or set REPMLP_NCCL_PATH to libnccl.so.2 or its folder.`);
  return lines;
}

/** The short human-readable form. */
export function formatInfo(i: Info): string {
  return [...cudaInfoLines(i), '', ...distributedLines(i)].join('\n');
}

/** The version, the backend chosen, the table of backends and the CUDA details. */
function cudaInfoLines(i: Info): string[] {
  const { cpu, cuda } = i.backends;
  const lines: string[] = [`repmlp ${i.version}`, `backend ${backendLine(i)}`, ''];
  lines.push(
    table([
      ['backend', 'available', 'details'],
      ['cpu', 'yes', `${cpu.threads} thread${cpu.threads === 1 ? '' : 's'}, ${cpu.isa} GEMM`],
      [
        'cuda',
        cuda.available ? 'yes' : 'no',
        cuda.available ? `${cuda.devices.length} device${cuda.devices.length === 1 ? '' : 's'}` : (cuda.reason ?? ''),
      ],
    ]),
  );
  if (!cuda.compiled) return lines;
  lines.push('');
  lines.push(`CUDA runtime ${cuda.runtimeVersion ?? 'unknown'}, driver ${cuda.driverVersion ?? 'not found'}`);
  if (cuda.devices.length > 0) {
    lines.push('');
    lines.push(
      table([
        ['device', 'name', 'capability', 'memory'],
        ...cuda.devices.map((d) => [String(d.index), d.name ?? '?', d.computeCapability ?? '?', gib(d.totalMemory)]),
      ]),
    );
  }
  lines.push('');
  const b = cuda.cublas;
  if (b.found) {
    lines.push(`cuBLAS ${b.version ?? '(version unknown)'} at ${b.path}, TF32 ${b.tf32 ? 'on' : 'off'}`);
  } else {
    lines.push(`cuBLAS not found (${b.tried.length} place${b.tried.length === 1 ? '' : 's'} tried, listed by --json).`);
    lines.push('  Set REPMLP_CUBLAS_PATH to libcublas.so.12 or its folder, `pip install nvidia-cublas-cu12`,');
    lines.push('  or install the CUDA toolkit.');
  }
  return lines;
}

export const command: Command = {
  name: 'info',
  usage,
  options: flags('json'),
  run(cl, io) {
    const i = info();
    io.out((cl.values.json === true ? JSON.stringify({ ...i, backend: backendLine(i) }, null, 2) : formatInfo(i)) + '\n');
    return 0;
  },
};
