// Turns a valid call into an adversarial one: one argument replaced by a bad number, a value
// of the wrong type, a storage that is too small, disposed, of the other dtype or shared with
// an output; an array with a wrong element, a wrong length or an element getter that
// disposes storages; a missing or an extra argument. Each mutation states what the binding
// must do: throw (the argument is clearly invalid), or either (it may be valid; only a crash,
// a hang or a non-Error exception fails).
import type { Arg, Call, Expect, Num } from './recipe';
import { GETTER_ERROR, slots, toNum } from './recipe';
import { aliasExpect, type Gen, type Spec } from './specs';

type St = Extract<Arg, { t: 'st' }>;

/** Numbers a size, an integer or a float argument receives. */
export const ADVERSARIAL: number[] = [
  -1, 0, 1, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 53 - 1, 2 ** 53, 2 ** 62, 2 ** 63 - 1024, 2 ** 63, -(2 ** 63), 2 ** 64, NaN, Infinity,
  -Infinity, 0.5, 1e300, -0, 2 ** 20,
];

/** Values of the wrong type for any argument. */
const WRONG_TYPES: Arg[] = [
  { t: 'str', v: '1' }, { t: 'str', v: 'abc' }, { t: 'null' }, { t: 'undef' }, { t: 'bigint', v: '1' }, { t: 'obj' }, { t: 'fn' },
  { t: 'bool', v: true }, { t: 'arr', items: [{ t: 'num', v: 1, kind: 'size' }], elem: 'size' },
];

/** What a number argument of this kind must do with v. */
function numberExpect(kind: 'size' | 'int' | 'float', v: number): Expect {
  if (kind === 'float') return 'either';
  if (!Number.isSafeInteger(v)) return 'throw';
  return kind === 'size' && v < 0 ? 'throw' : 'either';
}

/** What a value of the wrong type in place of `orig` must do. */
function wrongTypeExpect(orig: Arg, v: Arg): Expect {
  if (v.t === 'undef' && orig.t === 'num' && orig.opt) return 'either';
  if ((v.t === 'null' || v.t === 'undef') && ((orig.t === 'st' && orig.nullable) || (orig.t === 'null' && orig.nullable))) return 'either';
  if (v.t === 'arr' && orig.t === 'arr') return 'either';
  if (v.t === 'bool' && orig.t === 'bool') return 'either';
  return 'throw';
}

// An inference program (a Float64Array of values): another array type or one value too few
// (must throw), or one value replaced by an adversarial number (may still be valid).
function mutateProgram(g: Gen, m: Mutated, i: number, a: Extract<Arg, { t: 'ta' }>, where: string): void {
  const values = a.values!;
  const choice = values.length === 0 ? 0 : g.r(0, 2);
  if (choice === 0) {
    m.args[i] = { ...a, dtype: 'float32' };
    m.expect = 'throw';
    m.mutation = `${where}: a Float32Array`;
  } else if (choice === 1) {
    m.args[i] = { ...a, n: values.length - 1, values: values.slice(0, -1) };
    m.expect = 'throw';
    m.mutation = `${where}: the last value left out`;
  } else {
    const k = g.r(0, values.length - 1), v = g.pick([...ADVERSARIAL, -2, 3, 4]);
    m.args[i] = { ...a, values: values.map((x, j) => (j === k ? toNum(v) : x)) };
    m.expect = 'either';
    m.mutation = `${where}: value ${k} = ${String(v)}`;
  }
}

export interface Mutated {
  args: Arg[];
  storages: Call['storages'];
  expect: Expect;
  mutation: string;
  getterError?: string;
  fieldGetter?: Call['fieldGetter'];
}

const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

/** Replaces the value at path ([arg] or [arg, element]) in args. */
function setAt(args: Arg[], path: number[], v: Arg): void {
  if (path.length === 1) args[path[0]] = v;
  else {
    const a = args[path[0]];
    if (a.t === 'arr') a.items[path[1]] = v;
  }
}

function mutateNumber(g: Gen, orig: Extract<Arg, { t: 'num' }>, where: string): Omit<Mutated, 'args' | 'storages'> & { value: Arg } {
  if (g.p(0.75)) {
    const v = g.pick(ADVERSARIAL);
    return { value: { ...orig, v: toNum(v) as Num }, expect: numberExpect(orig.kind, v), mutation: `${where} = ${String(v)}` };
  }
  const w = g.pick([...WRONG_TYPES, { t: 'evil', dispose: [] } as Arg]);
  return { value: w, expect: wrongTypeExpect(orig, w), mutation: `${where} = ${w.t}` };
}

// The storage-level mutations of one slot. The call's storages are edited in place.
function mutateStorage(g: Gen, m: Mutated, path: number[], orig: St, where: string, otherDevice: boolean, mixedDevices: boolean): void {
  const choice = g.r(0, 5);
  const rec = m.storages[orig.id];
  if (choice === 0 && orig.need > 0) {
    rec.numel = orig.need - 1;
    m.expect = 'throw';
    m.mutation = `${where}: storage of ${rec.numel} elements, one too few`;
  } else if (choice === 1) {
    rec.disposed = true;
    m.expect = 'throw';
    m.mutation = `${where}: disposed storage`;
  } else if (choice === 2) {
    rec.dtype = rec.dtype === 'float32' ? 'int64' : 'float32';
    m.expect = orig.dtypeFree ? 'either' : 'throw';
    m.mutation = `${where}: ${rec.dtype} storage`;
  } else if (choice === 3 && otherDevice) {
    rec.device = 'cuda';
    // Storages on two devices must be refused; a call whose only storage moved is valid on CUDA.
    m.expect = mixedDevices ? 'throw' : 'either';
    m.mutation = `${where}: storage on cuda`;
  } else {
    const w = g.pick([...WRONG_TYPES, { t: 'evil', dispose: [] } as Arg, { t: 'num', v: 0, kind: 'size' } as Arg]);
    setAt(m.args, path, w);
    m.expect = wrongTypeExpect(orig, w);
    m.mutation = `${where} = ${w.t}`;
  }
}

/** Output and other storage slots made one storage; the expectation follows the spec's policy. */
function mutateAlias(g: Gen, spec: Spec, m: Mutated): boolean {
  const all = slots(m.args);
  const outs = all.filter((s) => s.arg.role === 'out');
  if (outs.length === 0 || all.length < 2) return false;
  const o = g.pick(outs);
  const others = all.filter((s) => s !== o);
  const x = g.pick(others);
  // The other slot takes the output's storage, or the output the other's.
  const [from, to] = g.p(0.5) ? [o, x] : [x, o];
  setAt(m.args, to.path, { ...to.arg, id: from.arg.id });
  const shared = m.storages[from.arg.id];
  const inList = o.path.length > 1 || x.path.length > 1;
  // Storages in a list are distinct (multi-tensor ops) unless the spec allows elementwise sharing.
  const listRule = spec.alias === 'elementwise' ? 'either' : 'throw';
  m.expect = shared.numel === 0 ? 'either' : inList ? listRule : aliasExpect(spec, m.args, o.path[0], x.path[0]);
  m.mutation = `aliasing: argument ${to.path.join('.')} given the storage of argument ${from.path.join('.')}`;
  return true;
}

// A named call whose field getter disposes some of the call's storages (or throws) when read.
function mutateFieldGetter(g: Gen, m: Mutated): void {
  const dispose = Array.from({ length: m.storages.length }, (_, k) => k).filter(() => g.p(0.5));
  const throws = g.p(0.2);
  m.fieldGetter = { index: g.r(0, m.args.length - 1), dispose, throws };
  m.expect = throws ? 'throw' : 'either';
  if (throws) m.getterError = GETTER_ERROR;
  m.mutation = `field ${m.fieldGetter.index}: getter disposing storages [${dispose.join(',')}]${throws ? ' and throwing' : ''}`;
}

function mutateArray(g: Gen, m: Mutated, i: number, orig: Extract<Arg, { t: 'arr' }>, where: string, storageCount: number): void {
  const a = clone(orig);
  const choice = g.r(0, 5);
  if (choice === 0 && a.items.length > 0) {
    // An element getter that disposes some of the call's storages (or throws) when read.
    const dispose = Array.from({ length: storageCount }, (_, k) => k).filter(() => g.p(0.5));
    const throws = g.p(0.2);
    a.getter = { index: g.r(0, a.items.length - 1), dispose, throws };
    m.args[i] = a;
    m.expect = throws ? 'throw' : 'either';
    if (throws) m.getterError = GETTER_ERROR;
    m.mutation = `${where}: element getter disposing storages [${dispose.join(',')}]${throws ? ' and throwing' : ''}`;
  } else if (choice === 1) {
    // One element more or less: every array argument's length is tied to another argument.
    if (a.items.length > 0 && g.p(0.5)) a.items.pop();
    else a.items.push(a.items.length ? clone(a.items[a.items.length - 1]) : a.elem === 'bool' ? { t: 'bool', v: true } : { t: 'num', v: 1, kind: 'size' });
    m.args[i] = a;
    m.expect = 'throw';
    m.mutation = `${where}: ${a.items.length} elements`;
  } else if (choice === 2 && a.elem !== 'st' && a.elem !== 'bool') {
    a.items = Array.from({ length: 9 }, () => ({ t: 'num', v: 1, kind: 'size' }) as Arg);
    m.args[i] = a;
    m.expect = 'throw';
    m.mutation = `${where}: 9 elements`;
  } else if (a.items.length > 0) {
    const k = g.r(0, a.items.length - 1);
    const e = a.items[k];
    if (e.t === 'num') {
      const r = mutateNumber(g, e, `${where}[${k}]`);
      a.items[k] = r.value;
      m.expect = r.value.t === 'num' ? r.expect : 'throw';
      m.mutation = r.mutation;
    } else if (e.t === 'bool') {
      const w = g.pick(WRONG_TYPES.filter((x) => x.t !== 'bool'));
      a.items[k] = w;
      m.expect = 'throw';
      m.mutation = `${where}[${k}] = ${w.t}`;
    } else {
      a.items[k] = g.pick([{ t: 'undef' }, { t: 'null' }, { t: 'num', v: 1, kind: 'size' }, { t: 'obj' }] as Arg[]);
      m.expect = 'throw';
      m.mutation = `${where}[${k}] = ${a.items[k].t}`;
    }
    m.args[i] = a;
  } else {
    const w = g.pick(WRONG_TYPES.filter((x) => x.t !== 'arr'));
    m.args[i] = w;
    m.expect = 'throw';
    m.mutation = `${where} = ${w.t}`;
  }
}

/**
 * A mutation of the valid call (args, storages); valid calls are kept as they are now and then.
 * otherDevice: whether CUDA storages can be made (a device is present).
 */
export function mutate(g: Gen, spec: Spec, valid: { args: Arg[]; storages: Call['storages'] }, otherDevice: boolean): Mutated {
  const m: Mutated = { args: clone(valid.args), storages: clone(valid.storages), expect: 'ok', mutation: 'none (a valid call)' };
  const roll = g.rng.uniform();
  if (roll < 0.1) return m;
  if (roll < 0.15) {
    if (m.args.length > 0 && g.p(0.5)) {
      m.args.pop();
      m.mutation = `${m.args.length} arguments (one missing)`;
    } else {
      m.args.push({ t: 'num', v: 0, kind: 'size' });
      m.mutation = `${m.args.length} arguments (one extra)`;
    }
    m.expect = spec.varargs ? 'either' : 'throw';
    return m;
  }
  if (roll < 0.27 && mutateAlias(g, spec, m)) return m;
  if (roll < 0.32 && spec.fields && m.args.length > 0) return mutateFieldGetter(g, m), m;
  if (roll < 0.3 && (spec.how === 'read' || spec.how === 'write')) {
    m.storages[0].disposed = true;
    m.expect = 'throw';
    m.mutation = 'the storage itself disposed';
    return m;
  }
  if (m.args.length === 0) {
    m.args.push({ t: 'num', v: 1, kind: 'size' });
    m.expect = spec.varargs ? 'either' : 'throw';
    m.mutation = '1 argument (one extra)';
    return m;
  }
  const i = g.r(0, m.args.length - 1);
  const a = m.args[i];
  const where = `argument ${i}`;
  // Whether moving one storage to CUDA mixes devices (copy_storage copies across them).
  const mixed = !spec.anyDevice && slots(m.args).length >= 2;
  switch (a.t) {
    case 'num': {
      const r = mutateNumber(g, a, where);
      m.args[i] = r.value;
      m.expect = r.expect;
      m.mutation = r.mutation;
      break;
    }
    case 'st':
      mutateStorage(g, m, [i], a, where, otherDevice, mixed);
      break;
    case 'arr':
      if (a.elem === 'st' && a.items.length > 0 && g.p(0.5)) {
        const k = g.r(0, a.items.length - 1);
        const e = a.items[k];
        if (e.t === 'st') mutateStorage(g, m, [i, k], e, `${where}[${k}]`, otherDevice, mixed);
      } else mutateArray(g, m, i, a, where, m.storages.length);
      break;
    case 'ta': {
      if (a.values) {
        mutateProgram(g, m, i, a, where);
        break;
      }
      const rec = m.storages[0];
      if (g.p(0.5)) {
        m.args[i] = { ...a, dtype: a.dtype === 'float32' ? g.pick(['int64', 'float64'] as const) : 'float32' };
        m.mutation = `${where}: a typed array of another type`;
      } else {
        const off = m.args[1]?.t === 'num' && typeof m.args[1].v === 'number' ? m.args[1].v : 0;
        m.args[i] = { ...a, n: rec.numel - off + 1 };
        m.mutation = `${where}: one element past the end`;
      }
      m.expect = 'throw';
      break;
    }
    case 'str': {
      // Storages on CUDA are made only where a device is, for the constructor as for the
      // kernels' storage arguments.
      const choices = (a.choices ?? []).filter((c) => otherDevice || spec.how !== 'new' || c !== 'cuda');
      const pool = [...choices, 'gpu', '', 'CPU', 'add ', 'float64'];
      const v = g.p(0.7) ? g.pick(pool) : null;
      if (v !== null) {
        m.args[i] = { ...a, v };
        m.expect = a.choices?.includes(v) ? 'either' : 'throw';
        m.mutation = `${where} = '${v}'`;
      } else {
        const w = g.pick(WRONG_TYPES.filter((x) => x.t !== 'str'));
        m.args[i] = w;
        m.expect = 'throw';
        m.mutation = `${where} = ${w.t}`;
      }
      break;
    }
    case 'bool': {
      const w = g.pick([...WRONG_TYPES, { t: 'bool', v: !a.v } as Arg, { t: 'num', v: 1, kind: 'size' } as Arg]);
      m.args[i] = w;
      m.expect = wrongTypeExpect(a, w);
      m.mutation = `${where} = ${w.t === 'bool' ? String(w.v) : w.t}`;
      break;
    }
    case 'work': {
      // Anything but a started sum's handle is refused.
      const w = g.pick(WRONG_TYPES);
      m.args[i] = w;
      m.expect = 'throw';
      m.mutation = `${where} (a started sum) = ${w.t}`;
      break;
    }
    case 'null': {
      // A nullable storage left out: give it a wrong type instead.
      const w = g.pick(WRONG_TYPES);
      m.args[i] = w;
      m.expect = wrongTypeExpect(a, w);
      m.mutation = `${where} (null) = ${w.t}`;
      break;
    }
    default:
      break;
  }
  // Evil objects dispose every storage of the call when touched.
  for (const x of m.args) if (x.t === 'evil') x.dispose = m.storages.map((_, k) => k);
  return m;
}
