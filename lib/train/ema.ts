// An exponential moving average of a model's weights, kept as the reference training code
// keeps it (update_model_ema in DingXiaoH/RepMLP's utils.py): a second model of the same
// config, updated every `every` optimizer steps from the model's whole state dict, the
// parameters and the BatchNorm running statistics alike,
//   ema = decay * ema + (1 - decay) * model,
// and during the warm-up a plain copy of the model. Each float32 tensor is updated in place
// on the device in two elementwise passes (scale, then axpy) and nothing is read back; the
// int64 step counts of BatchNorm (num_batches_tracked) are copied.
import { describe, fail } from '../errors';
import type { HostTensor } from '../io/safetensors';
import { buildModel, type FamilyModel } from '../models/families';
import { native } from '../native';
import type { Tensor } from '../tensor';

const OP = 'WeightEma';

/** When the EMA moves: every `every` steps, copying the model up to step `warmupSteps`. */
export interface EmaSchedule {
  decay: number;
  every: number;
  warmupSteps: number;
}

/**
 * The decay of the update after optimizer step `step` (1-based): null when the EMA does not
 * move at that step, 0 (a copy) within the warm-up, else `decay`.
 */
export function emaDecayAt(step: number, s: EmaSchedule): number | null {
  if (step % s.every !== 0) return null;
  return step <= s.warmupSteps ? 0 : s.decay;
}

/** The model's parameters and buffers, by state-dict key. */
function namedState(model: FamilyModel): [string, Tensor][] {
  return [...model.namedParameters(), ...model.namedBuffers()];
}

/** Checks that the EMA's tensor and the model's can be updated in place as whole storages. */
function checkPair(name: string, e: Tensor | undefined, m: Tensor): Tensor {
  if (!e || e.dtype !== m.dtype || e.numel !== m.numel) fail(OP, name, `a ${m.dtype} tensor of ${m.numel} elements like the model's`, e ? `a ${e.dtype} one of ${e.numel}` : 'none');
  for (const t of [e, m])
    if (!t.isContiguous || t.offset !== 0) fail(OP, name, 'dense tensors (contiguous from element 0 of their storage)', 'a strided view');
  return e;
}

export class WeightEma {
  /** the averaged model (eval mode); evaluate() and stateDict() take it like any model */
  readonly model: FamilyModel;
  /** (the EMA's tensor, the model's) for every state-dict key */
  private readonly pairs: [Tensor, Tensor][];

  /** An EMA of `source`, starting as a copy of it, on the source's device. */
  constructor(source: FamilyModel) {
    const device = source.parameters()[0]?.device ?? 'cpu';
    this.model = buildModel(source.config, { device });
    this.model.eval();
    const mine = new Map(namedState(this.model));
    this.pairs = namedState(source).map(([name, m]) => [checkPair(name, mine.get(name), m), m]);
    this.update(0);
  }

  /** ema = decay * ema + (1 - decay) * model for every tensor, on the device: decay 0 copies, 1 changes nothing. */
  update(decay: number): void {
    if (typeof decay !== 'number' || !(decay >= 0 && decay <= 1)) fail(OP, 'decay', 'a number in [0, 1]', describe(decay));
    if (decay === 1) return;
    for (const [e, m] of this.pairs) {
      if (e.dtype !== 'float32' || decay === 0) native.copy_storage(e.storage, 0, m.storage, 0, e.numel);
      else {
        native.scale(e.storage, e.storage, decay, 0, e.numel);
        native.axpy(e.storage, m.storage, 1 - decay, e.numel);
      }
    }
  }

  /** Host copies of the EMA's state dict (the model's key names). */
  stateDict(): Map<string, HostTensor> {
    return this.model.stateDict();
  }

  /** Replaces the EMA's tensors by a saved state dict (strict: every key, nothing else). */
  loadStateDict(state: Map<string, HostTensor>): void {
    this.model.loadStateDict(state);
  }

  dispose(): void {
    this.model.dispose();
  }
}
