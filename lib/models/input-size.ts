// The input sizes a RepMLPNet config takes: the one it was designed for (hs[0] * patchSize by
// ws[0] * patchSize, one partition per stage-1 map), or any larger one whose every stage map
// (input / (patchSize * 2^i)) is a whole multiple of that stage's partition hs[i] x ws[i].
import { fail } from '../errors';
import type { RepMLPNetConfig } from './repmlpnet';

/** The input height and width a config was designed for. */
export function designedInputSize(config: RepMLPNetConfig): [number, number] {
  return [config.hs[0] * config.patchSize, config.ws[0] * config.patchSize];
}

/** Throws `<op>: expected ... for <arg> but received ...` unless the model takes H x W inputs. */
export function checkInputSize(config: RepMLPNetConfig, [H, W]: readonly [number, number], op: string, arg = 'inputSize'): void {
  const { patchSize: p, hs, ws } = config;
  for (let i = 0; i < hs.length; i++) {
    const f = p * 2 ** i;
    const Hi = H / f, Wi = W / f;
    if (!Number.isInteger(Hi) || !Number.isInteger(Wi) || Hi % hs[i] || Wi % ws[i])
      fail(op, arg,
        `a height and width whose stage-${i + 1} map (input / ${f}) is a multiple of its partition ${hs[i]} x ${ws[i]}`,
        `${H} x ${W} (stage-${i + 1} map ${+Hi.toFixed(3)} x ${+Wi.toFixed(3)})`);
  }
}
