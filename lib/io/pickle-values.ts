// What the unpickler (pickle.ts) builds: plain values (null, booleans, numbers, strings,
// Buffers, arrays for lists and tuples, Maps for dicts) and the inert stand-ins below. None
// of them refers to anything outside the pickle: a class or function the pickle names is a
// PyGlobal (a module and a name, never imported), an object of a class repmlp does not know
// is a PyObject holding what the pickle said about it, and a tensor is a TensorRef whose
// elements are read afterwards from its storage.

/** A global the pickle names (`module.name`): only a name. */
export class PyGlobal {
  constructor(readonly module: string, readonly name: string) {}

  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}

/**
 * An object of a class the reader does not know (yacs.config.CfgNode, argparse.Namespace, a
 * scheduler, a whole nn.Module), in place of what the pickle would have built: the class
 * name, the arguments it would have been called with, the state a BUILD would have set,
 * and the items and elements it would have received as a dict or list subclass. Nothing of
 * the class is ever imported or called.
 */
export class PyObject {
  /** the BUILD state (usually a dict of attributes); undefined when none came */
  state: unknown = undefined;
  /** SETITEM(S) into the object: a dict subclass's contents */
  readonly items = new Map<unknown, unknown>();
  /** APPEND(S) into the object: a list subclass's contents */
  readonly elements: unknown[] = [];

  constructor(readonly cls: string, readonly args: readonly unknown[]) {}
}

export type StorageDType = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

/** torch's storage classes by name, with their element type. */
export const STORAGE_DTYPES: Readonly<Record<string, StorageDType>> = {
  FloatStorage: 'float32', DoubleStorage: 'float64', HalfStorage: 'float16', BFloat16Storage: 'bfloat16',
  LongStorage: 'int64', IntStorage: 'int32', ShortStorage: 'int16', CharStorage: 'int8', ByteStorage: 'uint8', BoolStorage: 'bool',
};

export const ITEM_BYTES: Readonly<Record<StorageDType, number>> = {
  float32: 4, float64: 8, float16: 2, bfloat16: 2, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1,
};

/** A storage from a persistent id: its key in the file, element type and element count. */
export class StorageRef {
  constructor(readonly dtype: StorageDType, readonly key: string, readonly numel: number) {}
}

/** A tensor as the pickle describes it: a view (offset, shape, strides) of a storage. */
export class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: readonly number[],
    readonly stride: readonly number[],
  ) {}

  get dtype(): StorageDType {
    return this.storage.dtype;
  }

  get numel(): number {
    return this.shape.reduce((a, d) => a * d, 1);
  }
}

export const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Lists, tuples, dicts and placeholders: the values that hold other values. */
export const isContainer = (v: unknown): v is unknown[] | Map<unknown, unknown> | PyObject =>
  Array.isArray(v) || v instanceof Map || v instanceof PyObject;

/** The values directly inside a container (a dict's keys and values; a placeholder's arguments, state, items and elements). */
export function childrenOf(v: unknown[] | Map<unknown, unknown> | PyObject): unknown[] {
  if (Array.isArray(v)) return v;
  if (v instanceof Map) return [...v.keys(), ...v.values()];
  return [...v.args, v.state, ...v.items.keys(), ...v.items.values(), ...v.elements];
}

/** A short rendering of a pickled value for messages: a few levels and items, never the whole graph. */
export function brief(v: unknown, depth = 0): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '...' : v);
  if (v === null || v === undefined) return 'None';
  if (typeof v !== 'object') return String(v);
  if (v instanceof PyGlobal) return v.qualified;
  if (v instanceof PyObject) return `${v.cls} object`;
  if (depth >= 2) return Array.isArray(v) ? '[...]' : v instanceof Map ? '{...}' : v.constructor.name;
  const more = (n: number) => (n > 4 ? ', ...' : '');
  if (Array.isArray(v)) return `[${v.slice(0, 4).map((x) => brief(x, depth + 1)).join(', ')}${more(v.length)}]`;
  if (v instanceof Map) return `{${[...v.keys()].slice(0, 4).map((k) => brief(k, depth + 1)).join(', ')}${more(v.size)}}`;
  return v.constructor.name;
}

/**
 * Checks the graph of containers under `root` without recursion: no container inside
 * itself (memo references can build cycles) and no path deeper than `limit`. Each container
 * is explored once (its height remembered), so shared subgraphs cost nothing extra.
 */
export function checkNesting(root: unknown, limit: number, bad: (what: string) => never): void {
  if (!isContainer(root)) return;
  const height = new Map<object, number>(); // containers done: the depth of the deepest path below
  const onPath = new Set<object>();
  const frames: { node: object; items: unknown[]; next: number; height: number }[] = [];
  const enter = (node: unknown[] | Map<unknown, unknown> | PyObject) => {
    if (frames.length >= limit) bad(`the pickle nests deeper than ${limit} levels`);
    onPath.add(node);
    frames.push({ node, items: childrenOf(node), next: 0, height: 1 });
  };
  enter(root);
  while (frames.length) {
    const f = frames[frames.length - 1];
    if (f.next < f.items.length) {
      const c = f.items[f.next++];
      if (!isContainer(c)) continue;
      if (onPath.has(c)) bad('the pickle refers to itself (a list or dict that contains itself), which no state dict does');
      const h = height.get(c);
      if (h === undefined) enter(c);
      else if (frames.length + h > limit) bad(`the pickle nests deeper than ${limit} levels`);
      else f.height = Math.max(f.height, h + 1);
      continue;
    }
    frames.pop();
    onPath.delete(f.node);
    height.set(f.node, f.height);
    if (frames.length) frames[frames.length - 1].height = Math.max(frames[frames.length - 1].height, f.height + 1);
  }
}
