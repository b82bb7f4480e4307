// The shared base of the optimizers: parameter groups with their own hyperparameters,
// step() (skips parameters without a gradient; calls the subclass's fused multi-tensor update;
// records no autograd), zeroGrad(), a settable learning rate, and stateDict() /
// loadStateDict() with host tensors (PyTorch's key names: step, exp_avg, exp_avg_sq,
// momentum_buffer) so a checkpoint resumes exactly. State tensors are kept out of every
// scope (keep()); dispose() frees them.
import { tensor } from '../creation';
import { describe, fail, RepmlpError, shapeStr } from '../errors';
import type { HostTensor } from '../io/safetensors';
import { keep } from '../scope';
import type { Tensor } from '../tensor';
import { withDense } from '../ops/views';

/** Hyperparameters every optimizer has. */
export interface BaseHyper {
  lr: number;
  weightDecay: number;
}

/** A parameter group: its tensors and its hyperparameters (mutable, e.g. lr for schedules). */
export type ParamGroup<H extends BaseHyper> = H & { params: Tensor[] };

/** What the constructors accept: tensors, or groups that override some hyperparameters. */
export type ParamsOrGroups<H extends BaseHyper> = Tensor[] | ({ params: Tensor[] } & Partial<H>)[];

/** Per-parameter state as host tensors, keyed by the parameter's index over all groups. */
export interface OptimizerStateDict<H extends BaseHyper> {
  state: Record<number, Record<string, HostTensor>>;
  paramGroups: (H & { params: number[] })[];
}

/**
 * The recipe's split: weight decay on tensors of two or more dimensions (weights),
 * none on vectors (biases, norm scales and shifts).
 */
export function splitWeightDecay(params: Tensor[], weightDecay: number): { params: Tensor[]; weightDecay: number }[] {
  return [
    { params: params.filter((p) => p.ndim >= 2), weightDecay },
    { params: params.filter((p) => p.ndim < 2), weightDecay: 0 },
  ];
}

/** @internal Checks a number option: finite and >= min (or in [min, max) when max is given). */
export function checkNumber(op: string, name: string, v: unknown, min: number, max?: number): number {
  const ok = typeof v === 'number' && Number.isFinite(v) && v >= min && (max === undefined || v < max);
  if (!ok) fail(op, name, max === undefined ? `a number >= ${min}` : `a number in [${min}, ${max})`, describe(v));
  return v as number;
}

/** @internal A float32 host tensor copied from a device tensor. */
export function toHost(t: Tensor): HostTensor {
  return { dtype: 'float32', shape: [...t.shape], data: t.toFloat32Array() };
}

/** @internal A step count as a host scalar (float32, as torch.optim stores it). */
export function stepToHost(step: number): HostTensor {
  return { dtype: 'float32', shape: [], data: Float32Array.of(step) };
}

export abstract class Optimizer<H extends BaseHyper> {
  readonly paramGroups: ParamGroup<H>[];
  private isDisposed = false;

  protected constructor(
    /** The class name, used in error messages. */
    protected readonly name: string,
    paramsOrGroups: ParamsOrGroups<H>,
    defaults: H,
  ) {
    if (!Array.isArray(paramsOrGroups) || paramsOrGroups.length === 0)
      fail(name, 'params', 'a non-empty array of tensors or of parameter groups', describe(paramsOrGroups));
    const grouped = paramsOrGroups.every((g) => isPlainGroup(g));
    if (!grouped && paramsOrGroups.some((g) => isPlainGroup(g)))
      fail(name, 'params', 'either tensors or parameter groups', 'a mix of both');
    const groups = grouped
      ? (paramsOrGroups as ({ params: Tensor[] } & Partial<H>)[])
      : [{ params: paramsOrGroups as Tensor[] } as { params: Tensor[] } & Partial<H>];
    const seen = new Set<Tensor>();
    this.paramGroups = groups.map((g, gi) => {
      const where = grouped ? `paramGroups[${gi}]` : 'params';
      if (!Array.isArray(g.params)) fail(name, `${where}.params`, 'an array of tensors', describe(g.params));
      const raw: Record<string, unknown> = Object.fromEntries(Object.entries(defaults));
      for (const [k, v] of Object.entries(g)) {
        if (k === 'params' || v === undefined) continue;
        if (!(k in defaults)) fail(name, where, `options among ${Object.keys(defaults).join(', ')}`, `'${k}'`);
        raw[k] = v;
      }
      const group: ParamGroup<H> = { ...this.hyperOf(raw, where), params: [...g.params] };
      group.params.forEach((p, i) => {
        const pname = grouped ? `${where}.params[${i}]` : `params[${i}]`;
        checkParam(name, pname, p);
        if (seen.has(p)) fail(name, pname, 'each tensor in one group only', 'a tensor listed twice');
        seen.add(p);
      });
      return group;
    });
  }

  /** Checks a group's hyperparameters (naming the group `where`); returns a fresh copy of them. */
  protected abstract parseHyper(raw: Record<string, unknown>, where: string): H;
  /**
   * Updates parameters of one group, all on one device, in place from their (dense)
   * gradients: one fused multi-tensor native call.
   */
  protected abstract updateGroup(params: Tensor[], grads: Tensor[], hyper: H): void;
  /** The parameter's state as host tensors, or null when it has none. */
  protected abstract saveState(p: Tensor): Record<string, HostTensor> | null;
  /** Checks a saved state entry for p (throws with `where` in the message). */
  protected abstract checkState(p: Tensor, entry: Record<string, HostTensor>, where: string): void;
  /** Replaces p's state by a checked entry (device tensors, kept). */
  protected abstract loadState(p: Tensor, entry: Record<string, HostTensor>): void;
  /** Frees every state tensor. */
  protected abstract clearState(): void;

  /** The learning rate of the first group. */
  get lr(): number {
    return this.paramGroups[0].lr;
  }
  /** Sets the learning rate of every group. */
  set lr(v: number) {
    checkNumber(this.name, 'lr', v, 0);
    for (const g of this.paramGroups) g.lr = v;
  }

  get disposed(): boolean {
    return this.isDisposed;
  }

  /** One update of every parameter that has a gradient. */
  step(): void {
    this.checkLive();
    this.paramGroups.forEach((group, gi) => {
      const where = this.paramGroups.length > 1 ? `paramGroups[${gi}]` : 'params';
      const hyper = this.hyperOf(group, where);
      // Every parameter is checked before any is updated; then one call per device.
      const byDevice = new Map<string, { params: Tensor[]; grads: Tensor[] }>();
      group.params.forEach((p, i) => {
        const pname = this.paramGroups.length > 1 ? `${where}.params[${i}]` : `params[${i}]`;
        checkParam(this.name, pname, p);
        const g = p.grad;
        if (!g) return;
        if (g.disposed) fail(this.name, `${pname}.grad`, 'a live gradient', 'a disposed one');
        if (g.dtype !== 'float32' || g.device !== p.device || shapeStr(g.shape) !== shapeStr(p.shape))
          fail(this.name, `${pname}.grad`, `a float32 gradient of shape ${shapeStr(p.shape)} on ${p.device}`, `a ${g.dtype} one of shape ${shapeStr(g.shape)} on ${g.device}`);
        let list = byDevice.get(p.device);
        if (!list) byDevice.set(p.device, (list = { params: [], grads: [] }));
        list.params.push(p);
        list.grads.push(g);
      });
      for (const { params, grads } of byDevice.values())
        withDense(grads, (...dense) => this.updateGroup(params, dense, hyper));
    });
  }

  /** Frees every parameter's gradient. */
  zeroGrad(): void {
    for (const g of this.paramGroups)
      for (const p of g.params) {
        p.grad?.dispose();
        p.grad = null;
      }
  }

  /** Host copies of the state and the hyperparameters (parameters by index over all groups). */
  stateDict(): OptimizerStateDict<H> {
    this.checkLive();
    const state: Record<number, Record<string, HostTensor>> = {};
    let index = 0;
    const paramGroups = this.paramGroups.map((g, gi) => {
      const ids = g.params.map((p) => {
        const s = this.saveState(p);
        if (s) state[index] = s;
        return index++;
      });
      return { ...this.hyperOf(g, `paramGroups[${gi}]`), params: ids };
    });
    return { state, paramGroups };
  }

  /** Restores state and hyperparameters saved by stateDict() for the same parameter layout. */
  loadStateDict(sd: OptimizerStateDict<H>): void {
    this.checkLive();
    const op = `${this.name}.loadStateDict`;
    if (typeof sd !== 'object' || sd === null || !Array.isArray(sd.paramGroups) || typeof sd.state !== 'object' || sd.state === null)
      fail(op, 'stateDict', 'an object with state and paramGroups', describe(sd));
    if (sd.paramGroups.length !== this.paramGroups.length)
      fail(op, 'stateDict.paramGroups', `${this.paramGroups.length} parameter groups`, `${sd.paramGroups.length}`);
    const params: Tensor[] = [];
    const hypers = sd.paramGroups.map((sg, gi) => {
      const mine = this.paramGroups[gi];
      const where = `stateDict.paramGroups[${gi}]`;
      if (!Array.isArray(sg.params) || sg.params.length !== mine.params.length)
        fail(op, `${where}.params`, `${mine.params.length} parameters`, Array.isArray(sg.params) ? `${sg.params.length}` : describe(sg.params));
      params.push(...mine.params);
      return this.hyperOf(sg, where);
    });
    const entries = Object.entries(sd.state).map(([key, entry]) => {
      const i = Number(key);
      if (!Number.isInteger(i) || i < 0 || i >= params.length)
        fail(op, 'stateDict.state', `parameter indices in [0, ${params.length})`, describe(key));
      this.checkState(params[i], entry, `stateDict.state[${i}]`);
      return [params[i], entry] as const;
    });
    // Everything checked: replace the state.
    this.clearState();
    hypers.forEach((h, gi) => Object.assign(this.paramGroups[gi], h));
    for (const [p, entry] of entries) this.loadState(p, entry);
  }

  /** Frees the optimizer's state; the optimizer cannot step afterwards. */
  dispose(): void {
    if (this.isDisposed) return;
    this.clearState();
    this.isDisposed = true;
  }

  // The hyperparameter fields of a group (or saved group), checked and copied.
  private hyperOf(group: object, where: string): H {
    return this.parseHyper(Object.fromEntries(Object.entries(group)), where);
  }

  protected checkLive(): void {
    if (this.isDisposed) throw new RepmlpError(`${this.name}: expected a live optimizer but received one that was disposed`);
  }
}

/** @internal A kept float32 device tensor holding a checked host tensor, shaped like p. */
export function stateTensor(p: Tensor, h: HostTensor): Tensor {
  return keep(tensor(h.data as Float32Array, [...p.shape], { device: p.device }));
}

/** @internal Checks a float32 host tensor of p's shape in a state entry. */
export function checkStateTensor(op: string, where: string, p: Tensor, h: HostTensor | undefined): void {
  if (!h || typeof h !== 'object' || !Array.isArray(h.shape)) fail(op, where, `a host tensor of shape ${shapeStr(p.shape)}`, describe(h));
  if (h.dtype !== 'float32' || shapeStr(h.shape) !== shapeStr(p.shape) || h.data.length !== p.numel)
    fail(op, where, `a float32 host tensor of shape ${shapeStr(p.shape)}`, `${h.dtype === 'int64' ? 'an' : 'a'} ${h.dtype} one of shape ${shapeStr(h.shape)}`);
}

/** @internal Reads a saved step count (a one-element float32 or int64 host tensor). */
export function stepFromHost(op: string, where: string, h: HostTensor | undefined): number {
  const v = h && typeof h === 'object' && h.data && h.data.length === 1 ? Number(h.data[0]) : NaN;
  if (!Number.isInteger(v) || v < 0) fail(op, where, 'a one-element host tensor holding a step count >= 0', describe(h));
  return v;
}

function isPlainGroup(g: unknown): boolean {
  return typeof g === 'object' && g !== null && (g as { isTensor?: unknown }).isTensor !== true && 'params' in g;
}

function checkParam(op: string, name: string, p: unknown): void {
  if (typeof p !== 'object' || p === null || (p as { isTensor?: unknown }).isTensor !== true) fail(op, name, 'a Tensor', describe(p));
  const t = p as Tensor;
  if (t.disposed) fail(op, name, 'a live tensor', 'a disposed one');
  if (t.dtype !== 'float32') fail(op, name, 'a float32 tensor', `an ${t.dtype} tensor`);
  if (t.gradFn) fail(op, name, 'a leaf tensor', 'the output of an op');
  if (!t.isContiguous || t.offset !== 0) fail(op, name, 'a dense tensor (contiguous from element 0 of its storage)', 'a strided view');
}
