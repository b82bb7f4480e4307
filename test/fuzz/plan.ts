// Which call comes where: call i of batch b under seed s is a pure function of (s, b, i), so a
// failure is reproduced by its seed and batch alone, whatever the time bound was.
import { Rng } from '../../lib/rng';
import type { Call } from './recipe';
import { mutate } from './mutate';
import { Gen, SPECS } from './specs';

/** The ops to fuzz: every spec, or those named in a comma-separated filter. */
export function opNames(filter?: string): string[] {
  const all = Object.keys(SPECS).sort();
  if (!filter) return all;
  const want = filter.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = want.filter((w) => !all.includes(w));
  if (unknown.length) throw new Error(`fuzz: no spec for ${unknown.join(', ')} (known: ${all.join(' ')})`);
  return want;
}

/** Addon keys without a spec, and specs of functions the addon does not have. */
export function uncovered(keys: string[]): string[] {
  const missing = keys.filter((k) => !(k in SPECS)).map((k) => `'${k}' (no spec)`);
  const stale = Object.keys(SPECS)
    .filter((k) => !k.startsWith('Storage.') && !keys.includes(k))
    .map((k) => `'${k}' (a spec but no such binding)`);
  return [...missing, ...stale];
}

// A 32-bit mix of the three coordinates (splitmix-style).
function hash(...xs: number[]): number {
  let h = 0x2545f491;
  for (const x of xs) {
    h = Math.imul(h ^ (x >>> 0), 0x9e3779b1) >>> 0;
    h = Math.imul(h ^ (h >>> 15), 0x85ebca77) >>> 0;
    h = (h ^ (h >>> 13)) >>> 0;
  }
  return h;
}

export function makeCall(seed: number, batch: number, i: number, ops: string[], otherDevice: boolean): Call {
  const g = new Gen(new Rng(hash(seed, batch, i)));
  const op = g.pick(ops);
  const spec = SPECS[op];
  const args = spec.make(g);
  const m = mutate(g, spec, { args, storages: g.storages }, otherDevice);
  const how = spec.how ?? 'call';
  return {
    op: how === 'read' || how === 'write' ? 'Storage' : op,
    how,
    self: how === 'read' || how === 'write' ? 0 : undefined,
    storages: m.storages,
    args: m.args,
    fields: spec.fields ? [...spec.fields] : undefined,
    fieldGetter: m.fieldGetter,
    expect: m.expect,
    mutation: m.mutation,
    getterError: m.getterError,
  };
}
