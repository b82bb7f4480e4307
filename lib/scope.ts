// Memory scopes (tfjs's tidy): scope(fn) frees every tensor created inside fn that fn does
// not return, also when fn throws, and releases the saved buffers of autograd nodes that no
// returned tensor can reach. keep(t) exempts a tensor from the scopes around it.
import type { Node } from './autograd';
import type { Tensor } from './tensor';
import { RepmlpError } from './errors';

interface Frame {
  tensors: Set<Tensor>;
  nodes: Set<Node>;
}

const frames: Frame[] = [];

/** @internal Called for every new tensor. */
export function trackTensor(t: Tensor): void {
  if (frames.length) frames[frames.length - 1].tensors.add(t);
}

/** @internal Called for every new autograd node. */
export function trackNode(n: Node): void {
  if (frames.length) frames[frames.length - 1].nodes.add(n);
}

/** Exempts a tensor from disposal by the enclosing scopes; the caller then owns it. */
export function keep<T extends Tensor>(t: T): T {
  for (const f of frames) f.tensors.delete(t);
  return t;
}

/** Runs fn and frees every tensor it created, except the tensors in its result. */
export function scope<T>(fn: () => T): T {
  const frame: Frame = { tensors: new Set(), nodes: new Set() };
  frames.push(frame);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    popAndFree(frame, new Set());
    throw e;
  }
  if (result instanceof Promise) {
    popAndFree(frame, new Set());
    throw new RepmlpError('scope: expected a synchronous function but received one that returned a Promise');
  }
  popAndFree(frame, collectTensors(result));
  return result;
}

function popAndFree(frame: Frame, kept: Set<Tensor>): void {
  frames.pop();
  const parent = frames.length ? frames[frames.length - 1] : null;
  const liveNodes = reachableNodes(kept);
  for (const n of frame.nodes) {
    if (liveNodes.has(n)) parent?.nodes.add(n);
    else n.release();
  }
  for (const t of frame.tensors) {
    if (kept.has(t)) parent?.tensors.add(t);
    else t.dispose();
  }
}

function reachableNodes(roots: Set<Tensor>): Set<Node> {
  const seen = new Set<Node>();
  const stack: Node[] = [];
  for (const t of roots) if (t.gradFn) stack.push(t.gradFn);
  while (stack.length) {
    const n = stack.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    for (const inp of n.inputs) if (inp.gradFn && !seen.has(inp.gradFn)) stack.push(inp.gradFn);
  }
  return seen;
}

// Tensors in a result: a tensor, or arrays / plain objects / Maps holding tensors.
function collectTensors(v: unknown, out = new Set<Tensor>(), depth = 0): Set<Tensor> {
  if (v === null || typeof v !== 'object' || depth > 8) return out;
  if (isTensor(v)) {
    out.add(v);
  } else if (Array.isArray(v)) {
    for (const x of v) collectTensors(x, out, depth + 1);
  } else if (v instanceof Map) {
    for (const x of v.values()) collectTensors(x, out, depth + 1);
  } else if (Object.getPrototypeOf(v) === Object.prototype) {
    for (const x of Object.values(v)) collectTensors(x, out, depth + 1);
  }
  return out;
}

function isTensor(v: object): v is Tensor {
  return (v as { isTensor?: unknown }).isTensor === true;
}
