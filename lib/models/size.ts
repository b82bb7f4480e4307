// How much memory a RepMLPNet config needs before anything is allocated, so that a config
// no machine can hold is refused with the estimate instead of failing deep inside the
// build (or taking the machine's memory first).
import * as os from 'node:os';
import { RepmlpError } from '../errors';
import { native, type Device } from '../native';
import { parameterCount } from './presets';
import type { RepMLPNetConfig } from './repmlpnet';

/** Memory of the device a model is built on: host memory, or the CUDA device's. */
function deviceMemory(device: Device): number | null {
  if (device === 'cpu') return os.totalmem();
  return native.cudaInfo().devices[0]?.totalMemory ?? null;
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
