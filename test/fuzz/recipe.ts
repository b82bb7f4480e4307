// A fuzz call as plain JSON (a recipe), so that the child process can log it before making
// it and a crash can be reported, and replayed, exactly: the storages to create, and each
// argument as a value, a reference to one of those storages, or an adversarial object.
import type { DType, Device, NativeAddon, NativeStorage } from '../../lib/native';

/** A number as JSON can hold it (NaN, infinities and -0 as strings). */
export type Num = number | 'NaN' | 'Infinity' | '-Infinity' | '-0';

/** What the binding must do with the call. */
export type Expect = 'ok' | 'throw' | 'either';

/** How an argument is read natively, which decides what a mutation of it must do. */
export type NumKind = 'size' | 'int' | 'float';

export type Arg =
  // opt: undefined is a valid value too (a defaulted argument)
  | { t: 'num'; v: Num; kind: NumKind; opt?: boolean }
  | { t: 'bool'; v: boolean }
  | { t: 'str'; v: string; choices?: string[] }
  | { t: 'null'; nullable?: boolean }
  | { t: 'undef' }
  | { t: 'bigint'; v: string }
  | { t: 'obj' }
  | { t: 'fn' }
  // An object whose valueOf / toString / any property getter disposes storages first.
  | { t: 'evil'; dispose: number[] }
  // A storage of the call; role says whether the binding writes it; need is the number of
  // elements it must hold; nullable: null is a valid value.
  // dtypeFree: the binding takes either dtype here.
  | { t: 'st'; id: number; role: 'out' | 'in'; need: number; nullable?: boolean; dtypeFree?: boolean }
  // A sum started by distSumStart over fresh storages of ns elements (distSumWait's handle).
  | { t: 'work'; ns: number[] }
  // A typed array of n elements (Float32Array for float32, BigInt64Array for int64, or a
  // Float64Array for 'float64'), zeros or, for a float64 one, `values` (an inference program).
  | { t: 'ta'; dtype: DType | 'float64'; n: number; values?: Num[] }
  // An array; elem is what the elements are (integers: 'size' or 'int'; storages; booleans).
  // getter: element `index` is an accessor that disposes storages, or throws, when read.
  | {
      t: 'arr';
      items: Arg[];
      elem: 'size' | 'int' | 'st' | 'bool';
      getter?: { index: number; dispose: number[]; throws?: boolean };
    };

export interface StorageRecipe {
  device: Device;
  dtype: DType;
  numel: number;
  disposed?: boolean;
  // Values: uniform in [lo, hi), integers when int (labels), else floats.
  lo?: number;
  hi?: number;
  int?: boolean;
}

export interface Call {
  op: string;
  /** 'call' (a function), 'new' (the Storage constructor) or a Storage method. */
  how?: 'call' | 'new' | 'read' | 'write';
  /** the storage the method is called on (how 'read' / 'write') */
  self?: number;
  storages: StorageRecipe[];
  args: Arg[];
  /** the binding's named fields (see Spec.fields): args become one object, extra ones follow it */
  fields?: string[];
  /**
   * Named calls: field `index` is an accessor that disposes storages, or throws, when read
   * (the binding reads fields one by one, between storages it has resolved).
   */
  fieldGetter?: { index: number; dispose: number[]; throws?: boolean };
  expect: Expect;
  /** what was changed from a valid call, for reports */
  mutation: string;
  /** the message of the error when the getter in the call throws */
  getterError?: string;
}

export const GETTER_ERROR = 'fuzz: an element getter threw';

export function num(v: Num): number {
  if (typeof v === 'number') return v;
  return v === 'NaN' ? NaN : v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : -0;
}

export function toNum(x: number): Num {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  if (Object.is(x, -0)) return '-0';
  return x;
}

/** The live objects of a call: its storages (index = id) and the argument values. */
export interface Built {
  storages: NativeStorage[];
  args: unknown[];
}

// Deterministic contents: a tiny generator per storage, seeded by its id.
function fillValues(r: StorageRecipe, id: number): Float32Array | BigInt64Array {
  let x = (id + 1) * 0x9e3779b9;
  const next = () => {
    x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x297a2d39) >>> 0;
    return x / 4294967296;
  };
  const lo = r.lo ?? -2, hi = r.hi ?? 2;
  if (r.dtype === 'int64') {
    const a = new BigInt64Array(r.numel);
    for (let i = 0; i < r.numel; i++) a[i] = BigInt(Math.floor(lo + next() * (hi - lo)));
    return a;
  }
  const a = new Float32Array(r.numel);
  for (let i = 0; i < r.numel; i++) a[i] = r.int ? Math.floor(lo + next() * (hi - lo)) : lo + next() * (hi - lo);
  return a;
}

export function build(native: NativeAddon, call: Call): Built {
  const storages = call.storages.map((r, id) => {
    const s = new native.Storage(r.device, r.dtype, r.numel);
    if (r.numel > 0) s.write(fillValues(r, id));
    if (r.disposed) s.dispose();
    return s;
  });
  const disposeAll = (ids: number[]) => ids.forEach((i) => storages[i].dispose());
  const value = (a: Arg): unknown => {
    switch (a.t) {
      case 'num': return num(a.v);
      case 'bool': return a.v;
      case 'str': return a.v;
      case 'null': return null;
      case 'undef': return undefined;
      case 'bigint': return BigInt(a.v);
      case 'obj': return {};
      case 'fn': return () => 1;
      case 'st': return storages[a.id];
      case 'ta': {
        if (a.dtype === 'int64') return new BigInt64Array(a.n);
        if (a.dtype === 'float32') return new Float32Array(a.n);
        const f = new Float64Array(a.n);
        if (a.values) f.set(a.values.slice(0, a.n).map(num));
        return f;
      }
      case 'work': {
        const parts = a.ns.map((n) => new native.Storage('cpu', 'float32', n));
        const work = native.distSumStart({ tensors: parts, ns: a.ns });
        for (const t of parts) t.dispose();  // the sum holds its own copy
        return work;
      }
      case 'evil': {
        const o: Record<string | symbol, unknown> = {};
        const hit = () => (disposeAll(a.dispose), 1);
        o.valueOf = hit;
        o.toString = () => (disposeAll(a.dispose), '1');
        o[Symbol.toPrimitive] = hit;
        for (const k of ['length', 'numel', 'dtype', 'device', '0'])
          Object.defineProperty(o, k, { get: hit, enumerable: true });
        return o;
      }
      case 'arr': {
        const out = a.items.map(value);
        const g = a.getter;
        if (g && g.index < out.length) {
          const inner = out[g.index];
          Object.defineProperty(out, g.index, {
            get() {
              disposeAll(g.dispose);
              if (g.throws) throw new Error(GETTER_ERROR);
              return inner;
            },
            enumerable: true,
          });
        }
        return out;
      }
    }
  };
  const args = call.args.map(value);
  return { storages, args: call.fields ? named(call, args, disposeAll) : args };
}

// The object of named fields a named call passes, followed by any extra arguments.
function named(call: Call, args: unknown[], disposeAll: (ids: number[]) => void): unknown[] {
  const fields = call.fields!;
  const obj: Record<string, unknown> = {};
  fields.forEach((f, k) => {
    if (k < args.length) obj[f] = args[k];
  });
  const g = call.fieldGetter;
  if (g && g.index < fields.length && g.index < args.length) {
    const inner = args[g.index];
    Object.defineProperty(obj, fields[g.index], {
      get() {
        disposeAll(g.dispose);
        if (g.throws) throw new Error(GETTER_ERROR);
        return inner;
      },
      enumerable: true,
    });
  }
  return [obj, ...args.slice(fields.length)];
}

/** Runs the call; returns the error it threw (null when none) and what it returned. */
export function invoke(native: NativeAddon, call: Call, built: Built): { error: unknown; value: unknown } {
  try {
    let value: unknown;
    if (call.how === 'new') value = new (native.Storage as unknown as new (...a: unknown[]) => unknown)(...built.args);
    else if (call.how === 'read' || call.how === 'write') {
      const self = built.storages[call.self ?? 0] as unknown as Record<string, (...a: unknown[]) => unknown>;
      value = self[call.how](...built.args);
    } else value = (native as unknown as Record<string, (...a: unknown[]) => unknown>)[call.op](...built.args);
    return { error: null, value };
  } catch (e) {
    return { error: e ?? new Error('(a falsy value was thrown)'), value: undefined };
  }
}

/** Why the outcome breaks the call's expectation, or null when it keeps it. */
export function judge(call: Call, error: unknown): string | null {
  if (error === null) return call.expect === 'throw' ? 'unexpected success: the call must throw' : null;
  if (!(error instanceof Error)) return `threw a non-Error value: ${String(error)}`;
  if (call.getterError && error.message === call.getterError) return null;
  // Storage methods name themselves "Storage.read"; the constructor "Storage".
  const name = call.how === 'read' || call.how === 'write' ? `Storage.${call.how}` : call.op;
  if (!error.message.startsWith(name + ':') && !error.message.startsWith(name + ' '))
    return `error message does not start with '${name}:': ${JSON.stringify(error.message)}`;
  if (call.expect === 'ok') return `unexpected error for a valid call: ${error.message}`;
  return null;
}

/** The storages a call's arguments refer to, with their roles (for aliasing). */
export function slots(args: Arg[]): { path: number[]; arg: Extract<Arg, { t: 'st' }> }[] {
  const out: { path: number[]; arg: Extract<Arg, { t: 'st' }> }[] = [];
  args.forEach((a, i) => {
    if (a.t === 'st') out.push({ path: [i], arg: a });
    else if (a.t === 'arr' && a.elem === 'st')
      a.items.forEach((x, k) => {
        if (x.t === 'st') out.push({ path: [i, k], arg: x });
      });
  });
  return out;
}
