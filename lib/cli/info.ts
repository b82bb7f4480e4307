// `repmlp info [--json]`: the version, the backends, the CUDA devices and cuBLAS.
import { chooseBackend } from '../backend';
import { info, type Info } from '../info';
import { flags } from './args';
import { table, type Command } from './command';

const usage = `Usage: repmlp info [--json]

Shows the repmlp version, the backend used when no device is named (and why), the CPU
backend (threads), and the CUDA backend: whether a device is usable (and why not), the
devices, driver and runtime versions, and where
cuBLAS was found (or every place it was looked for).

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

/** The short human-readable form. */
export function formatInfo(i: Info): string {
  const { cpu, cuda } = i.backends;
  const lines: string[] = [`repmlp ${i.version}`, `backend ${backendLine(i)}`, ''];
  lines.push(
    table([
      ['backend', 'available', 'details'],
      ['cpu', 'yes', `${cpu.threads} thread${cpu.threads === 1 ? '' : 's'}`],
      [
        'cuda',
        cuda.available ? 'yes' : 'no',
        cuda.available ? `${cuda.devices.length} device${cuda.devices.length === 1 ? '' : 's'}` : (cuda.reason ?? ''),
      ],
    ]),
  );
  if (!cuda.compiled) return lines.join('\n');
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
  return lines.join('\n');
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
