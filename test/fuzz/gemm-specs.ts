// Fuzz specs of the fused GEMM's bindings and of inference programs: gemm_fused, gemm_pack,
// infer_run (a valid program of one to three steps, every kind, over the call's storages)
// and infer_schema. Field names and orders come from the addon's own schema.
import { native } from '../../lib/native';
import type { Arg, Num } from './recipe';
import type { Gen, Range, Spec } from './specs';

const schema = new Map(native.infer_schema().map((k) => [k.kind, k.fields]));
const [MR, NR] = native.runtimeInfo().gemmPanels;
export const GEMM_FIELDS: readonly string[] = schema.get('gemm')!;
const PACK_FIELDS = ['out', 'offOut', 'inp', 'offInp', 'sideB', 'rows', 'K', 'batch', 'ld', 'stride', 'trans'] as const;

const numOf = (a: Arg): number => (a.t === 'num' && typeof a.v === 'number' ? a.v : NaN);
const boolOf = (a: Arg): boolean => a.t === 'bool' && a.v;
const ext = (batch: number, rows: number, cols: number, ld: number, stride: number) =>
  batch === 0 || rows === 0 || cols === 0 ? 0 : (batch - 1) * stride + (rows - 1) * ld + cols;
const packedSize = (sideB: boolean, rows: number, K: number) => Math.ceil(rows / (sideB ? NR : MR)) * (sideB ? NR : MR) * K;

/** A field's value: a number, a flag, a storage (need elements, or null), or a float. */
type Value = number | boolean | { st: 'out' | 'in'; need: number } | null | { float: number };

/** The storages each step's storage fields span, from its numeric fields (the binding's extents). */
function gemmExtents(v: (name: string) => number, flag: (name: string) => boolean, present: (name: string) => boolean): Record<string, number> {
  const M = v('M'), N = v('N'), K = v('K'), batch = v('batch');
  const empty = M === 0 || N === 0 || batch === 0;
  const operand = (side: 'A' | 'B') => {
    const sideB = side === 'B', rows = sideB ? N : M, trans = flag(`trans${side}`);
    if (flag(`packed${side}`)) return batch === 0 || rows * K === 0 ? 0 : (batch - 1) * v(`stride${side}`) + packedSize(sideB, rows, K);
    const [r, c] = sideB === trans ? [rows, K] : [K, rows];
    return ext(batch, r, c, v(sideB ? 'ldb' : 'lda'), v(`stride${side}`));
  };
  const pro = M === 0 || batch === 0 || !present('scale') ? 0 : (Math.min(v('proPeriod'), M) - 1) * v('proLd') + (batch - 1) * v('proStride') + 1;
  return {
    C: ext(batch, M, N, v('ldc'), v('strideC')), A: operand('A'), B: operand('B'), scale: pro, shift: pro,
    bias: empty ? 0 : (batch - 1) * v('biasStride') + (flag('biasPerColumn') ? N : M),
    rowScale: empty ? 0 : (batch - 1) * v('rowScaleStride') + (M - 1) * v('rowScaleLd') + 1,
    residual: ext(batch, M, N, v('ldr'), v('strideR')),
  };
}

/** A valid fused GEMM, field by field. */
function gemmValues(g: Gen): Record<string, Value> {
  const M = g.r(0, 5), N = g.r(0, 5), K = g.r(0, 5), batch = g.r(0, 3);
  const f: Record<string, Value> = { M, N, K, batch, alpha: { float: g.rng.uniform() * 2 - 0.5 }, beta: { float: g.pick([0, 1, 0.5]) } };
  const pad = () => (g.p(0.3) ? g.r(1, 2) : 0);
  f.ldc = Math.max(1, N) + pad();
  f.strideC = Math.max(M, 1) * (f.ldc as number) + pad();
  for (const side of ['A', 'B'] as const) {
    const sideB = side === 'B', rows = sideB ? N : M, trans = g.p(0.5), packed = g.p(0.3);
    const [, c] = sideB === trans ? [rows, K] : [K, rows];
    const ld = Math.max(1, c) + pad();
    const shared = g.p(0.3);
    f[`trans${side}`] = trans;
    f[`packed${side}`] = packed;
    f[sideB ? 'ldb' : 'lda'] = ld;
    f[`stride${side}`] = shared ? 0 : packed ? packedSize(sideB, rows, K) + pad() : Math.max(sideB === trans ? rows : K, 1) * ld + pad();
    f[`off${side}`] = g.r(0, 2);
  }
  const pro = !f.packedA && g.p(0.5);
  Object.assign(f, { proPeriod: g.r(1, M + 1), proLd: g.r(0, 2), proStride: g.r(0, 2), biasStride: g.r(0, 6), biasPerColumn: g.p(0.5), act: g.r(0, 3) });
  Object.assign(f, { rowScaleLd: g.r(0, 2), rowScaleStride: g.r(0, 2), ldr: Math.max(1, N) + pad() });
  f.strideR = Math.max(M, 1) * (f.ldr as number) + pad();
  const has = { scale: pro, shift: pro, bias: g.p(0.6), rowScale: g.p(0.5), residual: g.p(0.5) };
  const e = gemmExtents((n) => f[n] as number, (n) => f[n] as boolean, (n) => has[n as keyof typeof has] ?? true);
  for (const [name, need] of Object.entries(e)) {
    const off = g.r(0, 2);
    f[`off${name[0].toUpperCase()}${name.slice(1)}`] = name === 'A' || name === 'B' ? (f[`off${name}`] as number) : off;
    const n = need + (f[`off${name[0].toUpperCase()}${name.slice(1)}`] as number);
    f[name] = name in has && !has[name as keyof typeof has] ? null : { st: name === 'C' ? 'out' : 'in', need: n };
  }
  return f;
}

/** The Args of a field list from values; storages are made in field order. */
function toArgs(g: Gen, fields: readonly string[], f: Record<string, Value>): Arg[] {
  return fields.map((name) => {
    const v = f[name];
    if (v === undefined) throw new Error(`fuzz spec: no value for field ${name}`);
    if (v === null) return { t: 'null', nullable: true };
    if (typeof v === 'boolean') return g.bool(v);
    if (typeof v === 'number') return g.num(v, name === 'act' ? 'int' : 'size');
    if ('float' in v) return g.float(v.float);
    return v.st === 'out' ? g.out(v.need) : { ...g.inp(v.need), nullable: ['scale', 'shift', 'bias', 'rowScale', 'residual'].includes(name) };
  });
}

function gemmRanges(args: Arg[]): Range[] {
  const at = (n: string) => args[GEMM_FIELDS.indexOf(n)];
  const e = gemmExtents((n) => numOf(at(n)), (n) => boolOf(at(n)), (n) => at(n).t !== 'null');
  return Object.entries(e).map(([name, n]) => {
    const off = numOf(at(`off${name[0].toUpperCase()}${name.slice(1)}`));
    return { arg: GEMM_FIELDS.indexOf(name), begin: off, end: off + n };
  });
}

function packValues(g: Gen): Record<string, Value> {
  const sideB = g.p(0.5), trans = g.p(0.5), rows = g.r(0, 5), K = g.r(0, 5), batch = g.r(0, 3);
  const [r, c] = sideB === trans ? [rows, K] : [K, rows];
  const ld = Math.max(1, c) + (g.p(0.3) ? 1 : 0), stride = g.p(0.3) ? 0 : Math.max(r, 1) * ld;
  const offOut = g.r(0, 2), offInp = g.r(0, 2);
  return {
    out: { st: 'out', need: offOut + batch * packedSize(sideB, rows, K) }, offOut,
    inp: { st: 'in', need: offInp + ext(batch, r, c, ld, stride) }, offInp, sideB, rows, K, batch, ld, stride, trans,
  };
}

// ---- inference programs ----

/** One step of each kind as values; storage fields become storage indices (-1 null) of `stores`. */
function stepValues(g: Gen, kind: string): Record<string, Value> {
  if (kind === 'gemm') return gemmValues(g);
  if (kind === 'rowsum') {
    const rows = g.r(0, 4), cols = g.r(0, 4), offOut = g.r(0, 2), offInp = g.r(0, 2);
    return { out: { st: 'out', need: offOut + rows }, offOut, inp: { st: 'in', need: offInp + rows * cols }, offInp, rows, cols };
  }
  if (kind === 'copy') {
    const n = Array.from({ length: 6 }, () => g.r(0, 2) + (g.p(0.8) ? 1 : 0)), s = n.map(() => g.r(0, 4));
    const total = n.reduce((a, b) => a * b, 1), reach = total === 0 ? 0 : 1 + n.reduce((a, d, i) => a + (d - 1) * s[i], 0);
    const offOut = g.r(0, 2), offInp = g.r(0, 2);
    const f: Record<string, Value> = { out: { st: 'out', need: offOut + total }, offOut, inp: { st: 'in', need: offInp + reach }, offInp };
    n.forEach((d, i) => ((f[`n${i}`] = d), (f[`s${i}`] = s[i])));
    return f;
  }
  if (kind === 'ffn') {
    const [N, C, Ch, HW] = [g.r(0, 2), g.r(0, 3), g.r(0, 8), g.r(0, 20)];
    const numel = N * C * HW, [offOut, offY, offW1, offB1, offW2, offB2] = Array.from({ length: 6 }, () => g.r(0, 2));
    return {
      out: { st: 'out', need: offOut + numel }, offOut, y: { st: 'in', need: offY + numel }, offY,
      w1: { st: 'in', need: offW1 + packedSize(false, Ch, C) }, offW1, b1: { st: 'in', need: offB1 + Ch }, offB1,
      w2: { st: 'in', need: offW2 + packedSize(false, C, Ch) }, offW2, b2: { st: 'in', need: offB2 + C }, offB2, N, C, Ch, HW,
    };
  }
  const [N, C, Hp, h, Wp, w] = [g.r(0, 2), g.r(0, 3), g.r(1, 2), g.r(1, 3), g.r(1, 2), g.r(1, 3)];
  const numel = N * C * Hp * h * Wp * w;
  const off = () => g.r(0, 2);
  const [offOut, offY, offGate, offResidual] = [off(), off(), off(), off()];
  return {
    out: { st: 'out', need: offOut + numel }, offOut, y: { st: 'in', need: offY + numel }, offY,
    gate: { st: 'in', need: offGate + N * C }, offGate, residual: g.p(0.5) ? { st: 'in', need: offResidual + numel } : null, offResidual,
    N, C, Hp, h, Wp, w,
  };
}

/** A program of one to three steps over storages of its own (each step's storages distinct). */
function program(g: Gen): Arg[] {
  const kinds = [...schema.keys()];
  const values: Num[] = [];
  const stores: Arg[] = [];
  for (let k = g.r(1, 3); k > 0; k--) {
    const kind = g.pick(kinds);
    const f = stepValues(g, kind);
    values.push(kinds.indexOf(kind));
    for (const name of schema.get(kind)!) {
      const v = f[name];
      if (v === null) values.push(-1);
      else if (typeof v === 'boolean') values.push(Number(v));
      else if (typeof v === 'number') values.push(v);
      else if ('float' in v) values.push(v.float);
      else {
        values.push(stores.length);
        stores.push(v.st === 'out' ? g.out(v.need) : g.inp(v.need));
      }
    }
  }
  return [{ t: 'ta', dtype: 'float64', n: values.length, values }, g.list(stores), { t: 'null', nullable: true }];
}

export const GEMM_SPECS: Record<string, Spec> = {
  gemm_fused: { fields: GEMM_FIELDS, make: (g) => toArgs(g, GEMM_FIELDS, gemmValues(g)), alias: gemmRanges },
  gemm_pack: {
    fields: PACK_FIELDS,
    make: (g) => toArgs(g, PACK_FIELDS, packValues(g)),
    alias: (a) => {
      const [sideB, rows, K, batch, ld, stride, trans] = [boolOf(a[4]), numOf(a[5]), numOf(a[6]), numOf(a[7]), numOf(a[8]), numOf(a[9]), boolOf(a[10])];
      const [r, c] = sideB === trans ? [rows, K] : [K, rows];
      return [
        { arg: 0, begin: numOf(a[1]), end: numOf(a[1]) + batch * packedSize(sideB, rows, K) },
        { arg: 2, begin: numOf(a[3]), end: numOf(a[3]) + ext(batch, r, c, ld, stride) },
      ];
    },
  },
  // Each step's storages are its own, but a storage may serve several steps (one writes what
  // the next reads), so a call with two of them made one may be valid.
  infer_run: { fields: ['program', 'storages', 'stepSeconds'], make: program, alias: 'elementwise' },
  infer_schema: { make: () => [] },
};
