// AdamW (Loshchilov & Hutter) with torch.optim.AdamW's semantics (amsgrad off): decoupled
// weight decay, bias-corrected moments, one fused multi-tensor native call per group and step.
import { describe, fail } from '../errors';
import type { HostTensor } from '../io/safetensors';
import { native } from '../native';
import { keep } from '../scope';
import { Tensor } from '../tensor';
import { zeros } from '../creation';
import {
  checkNumber,
  checkStateTensor,
  Optimizer,
  stateTensor,
  stepFromHost,
  stepToHost,
  toHost,
  type ParamsOrGroups,
} from './optimizer';

export interface AdamWHyper {
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
}

interface AdamWState {
  step: number;
  expAvg: Tensor; // like the parameter
  expAvgSq: Tensor; // like the parameter
}

export class AdamW extends Optimizer<AdamWHyper> {
  private state = new Map<Tensor, AdamWState>();

  constructor(params: ParamsOrGroups<AdamWHyper>, opts: Partial<AdamWHyper> = {}) {
    if (typeof opts !== 'object' || opts === null) fail('AdamW', 'options', 'an object', describe(opts));
    super('AdamW', params, {
      lr: opts.lr ?? 1e-3,
      betas: opts.betas ?? [0.9, 0.999],
      eps: opts.eps ?? 1e-8,
      weightDecay: opts.weightDecay ?? 0.01,
    });
  }

  protected parseHyper(raw: Record<string, unknown>, where: string): AdamWHyper {
    const op = 'AdamW';
    const b = raw.betas;
    if (!Array.isArray(b) || b.length !== 2) fail(op, `${where}.betas`, 'two numbers in [0, 1)', describe(b));
    return {
      lr: checkNumber(op, `${where}.lr`, raw.lr, 0),
      betas: [checkNumber(op, `${where}.betas[0]`, b[0], 0, 1), checkNumber(op, `${where}.betas[1]`, b[1], 0, 1)],
      eps: checkNumber(op, `${where}.eps`, raw.eps, 0),
      weightDecay: checkNumber(op, `${where}.weightDecay`, raw.weightDecay, 0),
    };
  }

  protected updateGroup(params: Tensor[], grads: Tensor[], h: AdamWHyper): void {
    const states = params.map((p) => {
      let s = this.state.get(p);
      if (!s) {
        s = { step: 0, expAvg: keep(zeros(p.shape, { device: p.device })), expAvgSq: keep(zeros(p.shape, { device: p.device })) };
        this.state.set(p, s);
      }
      return s;
    });
    native.adamw_step({
      params: params.map((p) => p.storage), expAvgs: states.map((s) => s.expAvg.storage),
      expAvgSqs: states.map((s) => s.expAvgSq.storage), grads: grads.map((g) => g.storage),
      ns: params.map((p) => p.numel), steps: states.map((s) => s.step + 1),
      lr: h.lr, beta1: h.betas[0], beta2: h.betas[1], eps: h.eps, weightDecay: h.weightDecay,
    });
    for (const s of states) s.step++;
  }

  protected saveState(p: Tensor): Record<string, HostTensor> | null {
    const s = this.state.get(p);
    return s ? { step: stepToHost(s.step), exp_avg: toHost(s.expAvg), exp_avg_sq: toHost(s.expAvgSq) } : null;
  }

  protected checkState(p: Tensor, entry: Record<string, HostTensor>, where: string): void {
    const op = 'AdamW.loadStateDict';
    if (typeof entry !== 'object' || entry === null) fail(op, where, 'an object of host tensors', describe(entry));
    stepFromHost(op, `${where}.step`, entry.step);
    checkStateTensor(op, `${where}.exp_avg`, p, entry.exp_avg);
    checkStateTensor(op, `${where}.exp_avg_sq`, p, entry.exp_avg_sq);
  }

  protected loadState(p: Tensor, entry: Record<string, HostTensor>): void {
    this.state.set(p, {
      step: stepFromHost('AdamW.loadStateDict', 'step', entry.step),
      expAvg: stateTensor(p, entry.exp_avg),
      expAvgSq: stateTensor(p, entry.exp_avg_sq),
    });
  }

  protected clearState(): void {
    for (const s of this.state.values()) {
      s.expAvg.dispose();
      s.expAvgSq.dispose();
    }
    this.state.clear();
  }
}
