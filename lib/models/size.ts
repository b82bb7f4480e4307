// How much memory a RepMLPNet config needs before anything is allocated, so that a config
// no machine can hold is refused with the estimate instead of failing deep inside the
// build (or taking the machine's memory first).
import * as fs from 'node:fs';
import * as os from 'node:os';
import { RepmlpError } from '../errors';
import { native, type Device } from '../native';
import { parameterCount } from './shapes';
import type { RepMLPNetConfig } from './repmlpnet';

// A limit from a Linux file, in bytes, or Infinity where there is none ("max", "unlimited",
// or no such file: another platform, or cgroup v1).
function limitFrom(file: string, parse: (text: string) => string | undefined): number {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return Infinity;
  }
  const v = Number(parse(text));
  return Number.isFinite(v) && v > 0 ? v : Infinity;
}

/**
 * Memory of the device a model is built on: the CUDA device's, or on the CPU the smallest of
 * the machine's memory, the container's limit (cgroup v2 memory.max) and the process's
 * address-space limit (ulimit -v), so that a limited process refuses a config the machine as
 * a whole could hold.
 */
function deviceMemory(device: Device): number | null {
  if (device !== 'cpu') return native.cudaInfo().devices[0]?.totalMemory ?? null;
  const cgroup = limitFrom('/sys/fs/cgroup/memory.max', (t) => t.trim());
  const addressSpace = limitFrom('/proc/self/limits', (t) => /^Max address space\s+(\S+)/m.exec(t)?.[1]);
  return Math.min(os.totalmem(), cgroup, addressSpace);
}

const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GiB`;

/**
 * Throws when the model's float32 parameters alone would not fit in the device's memory;
 * training needs about four times as much (gradients and AdamW's two moments).
 */
export function checkFits(cfg: RepMLPNetConfig, device: Device): void {
  const bytes = 4 * parameterCount(cfg);
  const total = deviceMemory(device);
  if (total !== null && bytes > total)
    throw new RepmlpError(
      `RepMLPNet: expected a config whose tensors fit in the ${device} memory (${gib(total)}) but received one that needs ` +
        `about ${gib(bytes)} for its weights alone (${gib(4 * bytes)} to train with AdamW); numBlocks ${JSON.stringify(cfg.numBlocks)}, ` +
        `channels ${JSON.stringify(cfg.channels)}`,
    );
}
