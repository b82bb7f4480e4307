// Reading the values an unpickled checkpoint holds (pickle-values.ts) without knowing their
// classes: a field of a dict or of a placeholder (a dict subclass's items, an object's
// attributes), the dotted fields of a nested config, and a JSON form of the whole graph.
import { PyGlobal, PyObject, TensorRef } from './pickle-values';

/** The entries of a dict, of a dict subclass's placeholder (its items), or of an object's attributes (its BUILD state). */
export function fieldsOf(v: unknown): Map<unknown, unknown> | null {
  if (v instanceof Map) return v;
  if (!(v instanceof PyObject)) return null;
  if (v.items.size > 0) return v.items;
  return v.state instanceof Map ? v.state : null;
}

/** The value at `path` (dict keys or attribute names), or undefined. */
export function fieldAt(v: unknown, ...path: string[]): unknown {
  let at = v;
  for (const key of path) {
    const fields = fieldsOf(at);
    if (!fields) return undefined;
    at = fields.get(key);
  }
  return at;
}

/** A number, string or boolean: what a checkpoint's scalar entries (epoch, accuracy, arch) are. */
export function isScalar(v: unknown): boolean {
  return typeof v === 'number' || typeof v === 'bigint' || typeof v === 'string' || typeof v === 'boolean';
}

/**
 * The leaves of a nested config as dotted names (MODEL.ARCH -> 'RepMLPNet-B224'), in the
 * config's order; nested dicts and placeholders are descended, lists and other values are
 * leaves. The graph is acyclic (the unpickler checked).
 */
export function dottedFields(v: unknown, prefix = '', out = new Map<string, unknown>()): Map<string, unknown> {
  const fields = fieldsOf(v);
  if (!fields) {
    out.set(prefix, v);
    return out;
  }
  for (const [k, x] of fields) {
    const name = prefix ? `${prefix}.${String(k)}` : String(k);
    if (fieldsOf(x) && fieldsOf(x)!.size > 0) dottedFields(x, name, out);
    else out.set(name, x);
  }
  return out;
}

/** A JSON-able form of a pickled value: dicts as objects, placeholders with their class, tensors as dtype and shape. */
export function toJson(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  if (typeof v !== 'object') return v;
  if (Buffer.isBuffer(v)) return { bytes: v.length };
  if (Array.isArray(v)) return v.map(toJson);
  if (v instanceof TensorRef) return { tensor: v.dtype, shape: [...v.shape] };
  if (v instanceof PyGlobal) return { global: v.qualified };
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [typeof k === 'string' ? k : JSON.stringify(toJson(k)), toJson(x)]));
  if (v instanceof PyObject) {
    const out: Record<string, unknown> = { class: v.cls };
    if (v.args.length) out.args = toJson(v.args);
    if (v.items.size) out.items = toJson(v.items);
    if (v.elements.length) out.elements = toJson(v.elements);
    if (v.state !== undefined) out.state = toJson(v.state);
    return out;
  }
  return String(v);
}
