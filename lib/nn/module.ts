// Module: the base of the nn layers and models. A module owns its parameters (leaf
// tensors that require grad, exempt from scopes), its buffers (running statistics) and
// its child modules, each under a name; the dotted paths of those names are the keys of
// the state dict, exactly as PyTorch's state_dict() spells them (a module's parameters,
// then its buffers, then its children in registration order). ModuleList holds children
// named 0, 1, ...
import { describe, fail, RepmlpError, shapeStr } from '../errors';
import type { HostTensor } from '../io/safetensors';
import { keep } from '../scope';
import type { Device, Tensor } from '../tensor';

export interface LoadStateDictOptions {
  /** Missing and unexpected keys are errors too (default true); mis-shaped keys always are. */
  strict?: boolean;
}

export interface LoadStateDictResult {
  missing: string[];
  unexpected: string[];
}

export abstract class Module {
  private _training = true;
  private readonly _params = new Map<string, Tensor>();
  private readonly _buffers = new Map<string, Tensor>();
  private readonly _children = new Map<string, Module>();

  get training(): boolean {
    return this._training;
  }

  // ---- registration (subclasses) ----

  /** Registers (or replaces, disposing the old one) a parameter; the module owns t. */
  protected registerParameter(name: string, t: Tensor): Tensor {
    checkName(name);
    if (t.gradFn) fail('registerParameter', name, 'a leaf tensor', 'the output of an op');
    const old = this._params.get(name);
    if (old && old !== t) old.dispose();
    keep(t);
    t.requiresGrad = true;
    this._params.set(name, t);
    return t;
  }

  /** Registers (or replaces, disposing the old one) a buffer; the module owns t. */
  protected registerBuffer(name: string, t: Tensor): Tensor {
    checkName(name);
    const old = this._buffers.get(name);
    if (old && old !== t) old.dispose();
    keep(t);
    this._buffers.set(name, t);
    return t;
  }

  /** Registers (or replaces, disposing the old one) a child module. */
  protected registerModule<M extends Module>(name: string, m: M): M {
    checkName(name);
    const old = this._children.get(name);
    if (old && old !== m) old.dispose();
    this._children.set(name, m);
    m.train(this._training);
    return m;
  }

  /** Removes and disposes a child module (no-op when absent). */
  protected deleteModule(name: string): void {
    this._children.get(name)?.dispose();
    this._children.delete(name);
  }

  /** Removes and disposes a parameter (no-op when absent). */
  protected deleteParameter(name: string): void {
    this._params.get(name)?.dispose();
    this._params.delete(name);
  }

  protected param(name: string): Tensor {
    const t = this._params.get(name);
    if (!t) throw new RepmlpError(`${this.constructor.name}: no parameter '${name}'`);
    return t;
  }

  protected optionalParam(name: string): Tensor | null {
    return this._params.get(name) ?? null;
  }

  protected buffer(name: string): Tensor {
    const t = this._buffers.get(name);
    if (!t) throw new RepmlpError(`${this.constructor.name}: no buffer '${name}'`);
    return t;
  }

  protected child(name: string): Module | null {
    return this._children.get(name) ?? null;
  }

  // ---- traversal ----

  /** (dotted path, module) for this module ('' or prefix) and every descendant. */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [name, m] of this._children) out.push(...m.namedModules(join(prefix, name)));
    return out;
  }

  namedParameters(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [path, m] of this.namedModules()) for (const [n, t] of m._params) out.push([join(path, n), t]);
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  namedBuffers(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [path, m] of this.namedModules()) for (const [n, t] of m._buffers) out.push([join(path, n), t]);
    return out;
  }

  /** The total number of parameter elements. */
  parameterCount(): number {
    return this.parameters().reduce((s, t) => s + t.numel, 0);
  }

  // ---- modes ----

  /** Sets training mode (batch statistics in BatchNorm) on this module and its descendants. */
  train(mode = true): this {
    this._training = mode;
    for (const m of this._children.values()) m.train(mode);
    return this;
  }

  /** Sets eval mode (running statistics in BatchNorm). */
  eval(): this {
    return this.train(false);
  }

  // ---- state ----

  /** Host copies of every parameter and buffer, keyed as PyTorch's state_dict(). */
  stateDict(): Map<string, HostTensor> {
    return new Map(this.namedState().map(([k, t]) => [k, toHost(t)]));
  }

  // Parameters and buffers in state-dict order: per module its parameters, then buffers.
  private namedState(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [path, m] of this.namedModules()) {
      for (const [n, t] of m._params) out.push([join(path, n), t]);
      for (const [n, t] of m._buffers) out.push([join(path, n), t]);
    }
    return out;
  }

  /**
   * Copies a state dict into the parameters and buffers in place. Every problem is
   * reported in one error: mis-shaped (or mis-typed) keys always; missing and unexpected
   * keys when strict (the default).
   */
  loadStateDict(state: Map<string, HostTensor>, opts: LoadStateDictOptions = {}): LoadStateDictResult {
    if (!(state instanceof Map)) fail('loadStateDict', 'state', 'a Map of host tensors', describe(state));
    const strict = opts.strict ?? true;
    const targets = new Map<string, Tensor>(this.namedState());
    const missing = [...targets.keys()].filter((k) => !state.has(k));
    const unexpected = [...state.keys()].filter((k) => !targets.has(k));
    const misShaped: string[] = [];
    for (const [k, t] of targets) {
      const h = state.get(k);
      if (!h) continue;
      if (shapeStr(h.shape) !== shapeStr(t.shape) || h.dtype !== t.dtype)
        misShaped.push(`${k}: expected ${t.dtype} ${shapeStr(t.shape)} but received ${h.dtype} ${shapeStr(h.shape)}`);
      else if (h.data.length !== t.numel)
        misShaped.push(`${k}: expected ${t.numel} elements for shape ${shapeStr(t.shape)} but received ${h.data.length}`);
    }
    const problems: string[] = [];
    if (strict && missing.length) problems.push(`missing keys: ${missing.join(', ')}`);
    if (strict && unexpected.length) problems.push(`unexpected keys: ${unexpected.join(', ')}`);
    if (misShaped.length) problems.push(`mis-shaped keys: ${misShaped.join('; ')}`);
    if (problems.length) throw new RepmlpError(`loadStateDict: the state dict does not fit ${this.constructor.name}: ${problems.join('; ')}`);
    for (const [k, t] of targets) {
      const h = state.get(k);
      if (h) t.storage.write(h.data, t.offset);
    }
    return { missing, unexpected };
  }

  // ---- devices and memory ----

  /** Moves every parameter and buffer to `device` (gradients are dropped). Returns this. */
  to(device: Device): this {
    if (device !== 'cpu' && device !== 'cuda') fail('to', 'device', "'cpu' or 'cuda'", describe(device));
    for (const [, m] of this.namedModules()) {
      for (const [n, t] of m._params) if (t.device !== device) m.registerParameter(n, t.to(device));
      for (const [n, t] of m._buffers) if (t.device !== device) m.registerBuffer(n, t.to(device));
    }
    return this;
  }

  /** Frees the gradients of every parameter. */
  zeroGrad(): void {
    for (const t of this.parameters()) {
      t.grad?.dispose();
      t.grad = null;
    }
  }

  /** Frees every parameter, gradient and buffer of this module and its descendants. */
  dispose(): void {
    for (const t of this._params.values()) t.dispose();
    for (const t of this._buffers.values()) t.dispose();
    for (const m of this._children.values()) m.dispose();
    this._params.clear();
    this._buffers.clear();
    this._children.clear();
  }
}

/** A list of modules keyed 0, 1, ... (PyTorch's nn.ModuleList). */
export class ModuleList<M extends Module> extends Module {
  readonly items: readonly M[];

  constructor(items: M[]) {
    super();
    items.forEach((m, i) => this.registerModule(String(i), m));
    this.items = items;
  }
}

function join(prefix: string, name: string): string {
  return prefix ? `${prefix}.${name}` : name;
}

function checkName(name: string): void {
  if (typeof name !== 'string' || name === '' || name.includes('.'))
    fail('Module', 'name', 'a non-empty name without dots', describe(name));
}

function toHost(t: Tensor): HostTensor {
  const data = t.data();
  return { dtype: t.dtype, shape: [...t.shape], data };
}
