// The sizes a RepMLPNet config implies: the patch as [height, width], the input it was
// designed for, the check of another input size against every stage's partition, and how
// many partitions each stage's map is cut into.
import { describe, fail } from '../errors';
import type { RepMLPNetConfig } from './repmlpnet';

type Geometry = Pick<RepMLPNetConfig, 'patchSize' | 'hs' | 'ws'>;

/** The patch embedding's kernel and stride as [height, width]. */
export function patchPair(cfg: Pick<RepMLPNetConfig, 'patchSize'>): [number, number] {
  const p = cfg.patchSize;
  return typeof p === 'number' ? [p, p] : [p[0], p[1]];
}

/** The input [height, width] the config was designed for: one partition per map (hs[0] * patch height by ws[0] * patch width). */
export function configInputSize(cfg: Geometry): [number, number] {
  const [ph, pw] = patchPair(cfg);
  return [cfg.hs[0] * ph, cfg.ws[0] * pw];
}

/**
 * An input size (one number, [height, width], or undefined for the config's own) checked
 * against the config: every stage's map (the input over the patch and 2^i) a whole multiple
 * of its partition. Errors name `op` and `arg`.
 */
export function checkInputSize(cfg: Geometry, inputSize: number | readonly number[] | undefined, op: string, arg = 'inputSize'): [number, number] {
  let size: [number, number];
  if (inputSize === undefined) size = configInputSize(cfg);
  else if (typeof inputSize === 'number') size = [inputSize, inputSize];
  else if (Array.isArray(inputSize) && inputSize.length === 2) size = [inputSize[0], inputSize[1]];
  else return fail(op, arg, 'a positive integer or [height, width]', describe(inputSize));
  if (!size.every((d) => Number.isInteger(d) && d >= 1)) fail(op, arg, 'positive integers', describe(inputSize));
  const [H, W] = size;
  const [ph, pw] = patchPair(cfg);
  for (let i = 0; i < cfg.hs.length; i++) {
    const fh = ph * 2 ** i, fw = pw * 2 ** i;
    const Hi = H / fh, Wi = W / fw;
    if (!Number.isInteger(Hi) || !Number.isInteger(Wi) || Hi % cfg.hs[i] || Wi % cfg.ws[i]) {
      const by = fh === fw ? `input / ${fh}` : `input / ${fh} x ${fw}`;
      fail(op, arg,
        `a height and width whose stage-${i + 1} map (${by}) is a multiple of its partition ${cfg.hs[i]} x ${cfg.ws[i]}`,
        `${H} x ${W} (stage-${i + 1} map ${+Hi.toFixed(3)} x ${+Wi.toFixed(3)})`);
    }
  }
  return size;
}

/** How many partitions each stage's map holds at input [H, W] (1 everywhere at the config's own size). */
export function partitionsPerStage(cfg: Geometry, [H, W]: readonly [number, number]): number[] {
  const [ph, pw] = patchPair(cfg);
  return cfg.hs.map((h, i) => (H / (ph * 2 ** i) / h) * (W / (pw * 2 ** i) / cfg.ws[i]));
}

/**
 * The warning for a model of the paper's order by default that runs with more than one
 * partition per map (null otherwise): weights trained with the reference code give other
 * outputs there, and the option that reproduces them.
 */
export function partitionOrderWarning(cfg: Geometry & Pick<RepMLPNetConfig, 'partitionOrder'>, size: readonly [number, number]): string | null {
  if (cfg.partitionOrder !== undefined) return null;
  const parts = partitionsPerStage(cfg, size);
  const stage = parts.findIndex((n) => n > 1);
  if (stage < 0) return null;
  return `RepMLPNet: the ${size[0]} x ${size[1]} input cuts stage ${stage + 1}'s map into ${parts[stage]} partitions, where the paper's order of partitions and ` +
    "channel groups (used by default) and the reference code's differ; weights trained with the reference code need partitionOrder: 'reference' " +
    "(--partition-order reference); set partitionOrder: 'paper' to keep this order without this warning (docs/MODELS.md, Partition order)";
}
