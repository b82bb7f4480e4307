// The backend repmlp uses when a device is not named: CUDA when this build has CUDA, a
// driver and a device are present and cuBLAS opens; the CPU otherwise. Chosen once, at the
// first use, with a one-line reason (`repmlp info` shows it; REPMLP_VERBOSE=1 prints it to
// stderr when it is chosen). REPMLP_DEVICE=cpu|cuda overrides the choice.
import { fail, RepmlpError } from './errors';
import { info, type Info } from './info';
import type { Device } from './native';

export interface BackendChoice {
  device: Device;
  /** one line: which backend and why */
  reason: string;
}

/** The choice for a given Info and REPMLP_DEVICE value (pure; exported for tests). */
export function chooseBackend(i: Info, override: string | undefined): BackendChoice {
  const cuda = i.backends.cuda;
  const d = cuda.devices[0];
  const gpu = d ? `${d.name ?? 'CUDA device 0'} (compute capability ${d.computeCapability ?? '?'})` : '';
  let whyNot: string | null = null;
  if (!cuda.available) whyNot = cuda.reason ?? 'no usable CUDA device';
  else if (!cuda.cublas.found)
    whyNot = `${gpu} is present but cuBLAS was not found (${cuda.cublas.tried.length} place${cuda.cublas.tried.length === 1 ? '' : 's'} tried; set REPMLP_CUBLAS_PATH, see \`repmlp info --json\`)`;
  const onCuda = `cuda: ${gpu}, driver ${cuda.driverVersion ?? '?'}, cuBLAS ${cuda.cublas.version ?? ''} from ${cuda.cublas.path}`;
  if (override !== undefined && override !== '') {
    if (override === 'cpu') return { device: 'cpu', reason: 'cpu: chosen by REPMLP_DEVICE=cpu' };
    if (override !== 'cuda') fail('REPMLP_DEVICE', 'the environment variable', "'cpu' or 'cuda'", `'${override}'`);
    if (whyNot) throw new RepmlpError(`REPMLP_DEVICE=cuda, but CUDA cannot be used: ${whyNot}`);
    return { device: 'cuda', reason: `${onCuda} (chosen by REPMLP_DEVICE=cuda)` };
  }
  if (whyNot) return { device: 'cpu', reason: `cpu (${i.backends.cpu.threads} threads): ${whyNot}` };
  return { device: 'cuda', reason: onCuda };
}

let chosen: BackendChoice | undefined;

/** The backend used where no device is named (CLI `--device auto`, the trainer's default). */
export function backend(): BackendChoice {
  if (!chosen) {
    chosen = chooseBackend(info(), process.env.REPMLP_DEVICE);
    const v = process.env.REPMLP_VERBOSE;
    if (v && v !== '0') process.stderr.write(`repmlp: backend ${chosen.reason}\n`);
  }
  return chosen;
}

/** backend().device */
export function defaultDevice(): Device {
  return backend().device;
}
