// SGD with momentum, torch.optim.SGD's semantics: coupled weight decay (g + wd * p), a
// momentum buffer started from the first gradient, dampening, optional Nesterov; one
// fused multi-tensor native call per group and step.
import { describe, fail } from '../errors';
import type { HostTensor } from '../io/safetensors';
import { native } from '../native';
import { keep } from '../scope';
import { Tensor } from '../tensor';
import { checkNumber, checkStateTensor, Optimizer, stateTensor, toHost, type ParamsOrGroups } from './optimizer';

export interface SGDHyper {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
}

export class SGD extends Optimizer<SGDHyper> {
  // The momentum buffer of each parameter that has taken a step with momentum.
  private buffers = new Map<Tensor, Tensor>();

  constructor(params: ParamsOrGroups<SGDHyper>, opts: Partial<SGDHyper> & { lr: number }) {
    if (typeof opts !== 'object' || opts === null) fail('SGD', 'options', 'an object with lr', describe(opts));
    super('SGD', params, {
      lr: opts.lr,
      momentum: opts.momentum ?? 0,
      dampening: opts.dampening ?? 0,
      weightDecay: opts.weightDecay ?? 0,
      nesterov: opts.nesterov ?? false,
    });
  }

  protected parseHyper(raw: Record<string, unknown>, where: string): SGDHyper {
    const op = 'SGD';
    const h: SGDHyper = {
      lr: checkNumber(op, `${where}.lr`, raw.lr, 0),
      momentum: checkNumber(op, `${where}.momentum`, raw.momentum, 0),
      dampening: checkNumber(op, `${where}.dampening`, raw.dampening, 0, 1),
      weightDecay: checkNumber(op, `${where}.weightDecay`, raw.weightDecay, 0),
      nesterov: raw.nesterov === true,
    };
    if (typeof raw.nesterov !== 'boolean') fail(op, `${where}.nesterov`, 'a boolean', describe(raw.nesterov));
    if (h.nesterov && (h.momentum <= 0 || h.dampening !== 0))
      fail(op, `${where}.nesterov`, 'momentum > 0 and dampening 0 with Nesterov momentum', `momentum ${h.momentum} and dampening ${h.dampening}`);
    return h;
  }

  protected updateGroup(params: Tensor[], grads: Tensor[], h: SGDHyper): void {
    const ns = params.map((p) => p.numel);
    if (h.momentum === 0) {
      native.sgd_step(params.map((p) => p.storage), grads.map((g) => g.storage), ns, h.lr, h.weightDecay);
      return;
    }
    const firsts = params.map((p) => !this.buffers.has(p));
    const bufs = params.map((p, i) => {
      if (firsts[i]) this.buffers.set(p, keep(Tensor.empty(p.shape, { device: p.device })));
      return this.buffers.get(p)!;
    });
    try {
      native.sgd_momentum_step({
        params: params.map((p) => p.storage), momentumBuffers: bufs.map((b) => b.storage),
        grads: grads.map((g) => g.storage), ns, firsts,
        lr: h.lr, momentum: h.momentum, dampening: h.dampening, weightDecay: h.weightDecay, nesterov: h.nesterov,
      });
    } catch (e) {
      // Uninitialised buffers must not survive a failed first step.
      params.forEach((p, i) => {
        if (firsts[i]) {
          bufs[i].dispose();
          this.buffers.delete(p);
        }
      });
      throw e;
    }
  }

  protected saveState(p: Tensor): Record<string, HostTensor> | null {
    const buf = this.buffers.get(p);
    return buf ? { momentum_buffer: toHost(buf) } : null;
  }

  protected checkState(p: Tensor, entry: Record<string, HostTensor>, where: string): void {
    if (typeof entry !== 'object' || entry === null) fail('SGD.loadStateDict', where, 'an object of host tensors', describe(entry));
    if (entry.momentum_buffer !== undefined) checkStateTensor('SGD.loadStateDict', `${where}.momentum_buffer`, p, entry.momentum_buffer);
  }

  protected loadState(p: Tensor, entry: Record<string, HostTensor>): void {
    if (entry.momentum_buffer !== undefined) this.buffers.set(p, stateTensor(p, entry.momentum_buffer));
  }

  protected clearState(): void {
    for (const b of this.buffers.values()) b.dispose();
    this.buffers.clear();
  }
}
