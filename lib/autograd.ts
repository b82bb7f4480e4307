// Reverse-mode autograd: ops record a Node (inputs, saved tensors, backward rule) on their
// output; backward() walks the graph iteratively in reverse topological order, calls each
// rule once with the summed gradient of its output, accumulates leaf gradients into .grad,
// and releases each node's saved tensors as soon as it has run. Loading this module installs
// backward() as Tensor.backward (see tensor.ts).
import { RepmlpError, shapeStr } from './errors';
import { native } from './native';
import { keep, trackNode } from './scope';
import { fillTensor, installTensorMethods, Tensor, type BackwardOptions } from './tensor';

/**
 * A backward rule: given the gradient of the output, the saved tensors and which inputs
 * need a gradient, returns one gradient per input (null where none is needed). Each
 * returned tensor must be a new tensor object (a view is fine), never `grad` itself.
 */
export type BackwardFn = (grad: Tensor, saved: readonly Tensor[], needs: readonly boolean[]) => (Tensor | null)[];

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn without recording autograd nodes. */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

export class Node {
  saved: Tensor[];
  private rule: BackwardFn | null;

  constructor(
    readonly name: string,
    public inputs: Tensor[],
    saved: readonly Tensor[],
    rule: BackwardFn,
    readonly needs: readonly boolean[],
  ) {
    // The node holds its own references so scopes may free the originals.
    this.saved = saved.map((t) => t.view(t.shape, t.strides, t.offset, false));
    this.rule = rule;
  }

  get released(): boolean {
    return this.rule === null;
  }

  /** @internal */
  apply(grad: Tensor): (Tensor | null)[] {
    if (!this.rule)
      throw new RepmlpError(
        `backward: expected a live graph at ${this.name} but its saved tensors were already released (call backward with { retainGraph: true } to run it twice, and keep the output of a scope that you differentiate later)`,
      );
    return this.rule(grad, this.saved, this.needs);
  }

  /** Frees the saved tensors; the node can no longer run. */
  release(): void {
    for (const t of this.saved) t.dispose();
    this.saved = [];
    this.rule = null;
    this.inputs = [];
  }
}

/** For kernels that compute every gradient at once: frees those no input needs. */
export function keepNeeded(grads: Tensor[], needs: readonly boolean[]): (Tensor | null)[] {
  return grads.map((t, i) => {
    if (needs[i]) return t;
    t.dispose();
    return null;
  });
}

/**
 * Records `out = op(inputs)` for autograd when gradients are enabled and some input needs one.
 * `saved` are the tensors the backward rule reads. Returns out.
 */
export function record(name: string, out: Tensor, inputs: Tensor[], saved: Tensor[], rule: BackwardFn): Tensor {
  if (!gradEnabled) return out;
  const needs = inputs.map((t) => t.requiresGrad);
  if (!needs.some(Boolean)) return out;
  const node = new Node(name, inputs, saved, rule, needs);
  out.requiresGrad = true;
  out.gradFn = node;
  trackNode(node);
  return out;
}

// Nodes reachable from root, inputs before the nodes that consume them.
function topologicalOrder(root: Node): Node[] {
  const order: Node[] = [];
  const state = new Map<Node, number>(); // 1: on the stack, 2: done
  const stack: [Node, number][] = [[root, 0]];
  state.set(root, 1);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [node, i] = top;
    if (i < node.inputs.length) {
      top[1]++;
      const child = node.inputs[i].gradFn;
      if (child && !state.has(child)) {
        state.set(child, 1);
        stack.push([child, 0]);
      }
    } else {
      stack.pop();
      state.set(node, 2);
      order.push(node);
    }
  }
  return order;
}

// A gradient we may accumulate into in place: dense, contiguous and not shared.
function owned(g: Tensor): Tensor {
  if (g.isExclusiveDense) return g;
  const c = g.contiguous();
  const copy = c === g || !c.isExclusiveDense ? cloneDense(c) : c;
  if (c !== g && c !== copy) c.dispose();
  g.dispose();
  return copy;
}

function cloneDense(t: Tensor): Tensor {
  const out = Tensor.empty(t.shape, { device: t.device, dtype: t.dtype });
  const c = t.contiguous();
  native.scale(out.storage, c.storage, 1, 0, t.numel);
  if (c !== t) c.dispose();
  return out;
}

// into += g in place (into is exclusive and dense); consumes g.
function accumulate(into: Tensor, g: Tensor): void {
  const c = g.contiguous();
  native.axpy(into.storage, c.storage, 1, into.numel);
  if (c !== g) c.dispose();
  g.dispose();
}

// The sum of two gradient contributions to one tensor; consumes both. In place when either
// is ours alone and dense; otherwise one new tensor written in one pass, so that a shared or
// strided gradient (a view that add, reshape or permute passed on) is never copied first.
function addGrads(prev: Tensor, g: Tensor): Tensor {
  if (prev.isExclusiveDense) {
    accumulate(prev, g);
    return prev;
  }
  if (g.isExclusiveDense) {
    accumulate(g, prev);
    return g;
  }
  const out = Tensor.empty(prev.shape, { device: prev.device });
  // The kernel reads any strides from element 0 of a storage; offset views are copied first.
  const a = prev.offset === 0 ? prev : prev.contiguous();
  const b = g.offset === 0 ? g : g.contiguous();
  native.binary_forward(out.storage, a.storage, b.storage, 'add', [...out.shape], [...a.strides], [...b.strides]);
  for (const t of [a, b, prev, g]) t.dispose(); // dispose is idempotent
  return out;
}

// For each step k of the backward (order[k], run from the last k down), the leaves that
// require grad whose last contributing node is order[k]: they are complete after step k.
function leavesDoneAt(order: Node[]): Map<number, Tensor[]> {
  const last = new Map<Tensor, number>();
  for (let k = order.length - 1; k >= 0; k--)
    for (const inp of order[k].inputs) if (!inp.gradFn && inp.requiresGrad) last.set(inp, k);
  const done = new Map<number, Tensor[]>();
  for (const [leaf, k] of last) {
    const at = done.get(k);
    if (at) at.push(leaf);
    else done.set(k, [leaf]);
  }
  return done;
}

export function backward(root: Tensor, gradient: Tensor | undefined, opts: BackwardOptions = {}): void {
  if (!root.requiresGrad)
    throw new RepmlpError('backward: expected a tensor that requires grad but received one with requiresGrad false (no input of its graph requires grad)');
  if (!gradient && root.numel !== 1)
    throw new RepmlpError(`backward: expected a scalar output (or a gradient argument) but received shape ${shapeStr(root.shape)}`);
  if (gradient && shapeStr(gradient.shape) !== shapeStr(root.shape))
    throw new RepmlpError(`backward: expected a gradient of shape ${shapeStr(root.shape)} but received ${shapeStr(gradient.shape)}`);
  if (gradient && gradient.device !== root.device)
    throw new RepmlpError(`backward: expected a gradient on ${root.device} but received one on ${gradient.device}`);
  noGrad(() => {
    const seed = gradient
      ? cloneDense(gradient)
      : fillTensor(Tensor.empty(root.shape, { device: root.device }), 1);
    if (!root.gradFn) {
      accumulateLeaf(root, seed);
      opts.onLeafReady?.(root);
      return;
    }
    const grads = new Map<Node, Tensor>([[root.gradFn, seed]]);
    const order = topologicalOrder(root.gradFn);
    const done = opts.onLeafReady ? leavesDoneAt(order) : null;
    for (let k = order.length - 1; k >= 0; k--) {
      const node = order[k];
      const g = grads.get(node);
      if (g) runNode(node, g, grads, opts);
      for (const leaf of done?.get(k) ?? []) opts.onLeafReady!(leaf);
    }
    for (const g of grads.values()) g.dispose();
  });
}

// One step of backward: node's rule with its summed output gradient g (consumed), the input
// gradients summed into grads (inner nodes) or the leaves' .grad.
function runNode(node: Node, g: Tensor, grads: Map<Node, Tensor>, opts: BackwardOptions): void {
  grads.delete(node);
  const inputs = node.inputs;
  const inGrads = node.apply(g);
  g.dispose();
  for (let i = 0; i < inputs.length; i++) {
    const gi = inGrads[i];
    if (!gi) continue;
    const inp = inputs[i];
    if (!inp.requiresGrad) {
      gi.dispose();
      continue;
    }
    if (shapeStr(gi.shape) !== shapeStr(inp.shape))
      throw new RepmlpError(`backward: ${node.name} returned a gradient of shape ${shapeStr(gi.shape)} for input ${i} of shape ${shapeStr(inp.shape)}`);
    if (inp.gradFn) {
      // Summed when a second contribution comes; read, never written, by the rule it feeds.
      const prev = grads.get(inp.gradFn);
      grads.set(inp.gradFn, prev ? addGrads(prev, gi) : gi);
    } else {
      accumulateLeaf(inp, gi);
    }
  }
  if (!opts.retainGraph) node.release();
}

function accumulateLeaf(leaf: Tensor, g: Tensor): void {
  if (leaf.grad && !leaf.grad.disposed) accumulate(leaf.grad, g);
  else leaf.grad = keep(owned(g));
}

installTensorMethods({ backward });
