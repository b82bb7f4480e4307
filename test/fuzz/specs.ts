// One argument spec per native binding: how to make a random valid call (small sizes,
// storages of exactly the elements the call needs, or a little more), and which outputs may
// share a storage with which inputs. The mutations in mutate.ts start from these calls.
// Every key of the addon must have a spec here (the runner fails loudly otherwise).
import type { Rng } from '../../lib/rng';
import type { DType } from '../../lib/native';
import { UNARY_OPS } from '../../lib/ops/unary';
import type { Arg, Call, Expect, NumKind, StorageRecipe } from './recipe';
import { GEMM_SPECS } from './gemm-specs';

type St = Extract<Arg, { t: 'st' }>;

/** Builds one valid call: the storages it creates and the arguments. */
export class Gen {
  storages: StorageRecipe[] = [];
  constructor(readonly rng: Rng) {}

  /** An integer in [lo, hi]. */
  r(lo: number, hi: number): number {
    return lo + this.rng.int(hi - lo + 1);
  }
  /** True with probability p. */
  p(p: number): boolean {
    return this.rng.uniform() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.rng.int(xs.length)];
  }
  /** A small size, 0 now and then. */
  dim(hi = 4): number {
    return this.p(0.08) ? 0 : this.r(1, hi);
  }

  private storage(role: 'out' | 'in', need: number, dtype: DType, extra: Partial<StorageRecipe> = {}): St {
    const slack = this.p(0.2) ? this.r(1, 3) : 0;
    this.storages.push({ device: 'cpu', dtype, numel: need + slack, ...extra });
    return { t: 'st', id: this.storages.length - 1, role, need };
  }
  out(need: number, dtype: DType = 'float32'): St {
    return this.storage('out', need, dtype);
  }
  inp(need: number, dtype: DType = 'float32', extra: Partial<StorageRecipe> = {}): St {
    return this.storage('in', need, dtype, extra);
  }
  /** An output or input that may also be null (the binding then skips it). */
  maybe(role: 'out' | 'in', need: number, present = this.p(0.7), dtype: DType = 'float32'): Arg {
    if (!present) return { t: 'null', nullable: true };
    return { ...this.storage(role, need, dtype), nullable: true };
  }
  num(v: number, kind: NumKind = 'size'): Arg {
    return { t: 'num', v, kind };
  }
  float(v = this.rng.uniform() * 2 - 0.5): Arg {
    return { t: 'num', v, kind: 'float' };
  }
  bool(v = this.p(0.5)): Arg {
    return { t: 'bool', v };
  }
  str(v: string, choices: string[]): Arg {
    return { t: 'str', v, choices };
  }
  ints(vs: number[], elem: 'size' | 'int' = 'size'): Arg {
    return { t: 'arr', items: vs.map((v) => this.num(v, elem)), elem };
  }
  list(items: Arg[]): Arg {
    return { t: 'arr', items, elem: 'st' };
  }
  flags(vs: boolean[]): Arg {
    return { t: 'arr', items: vs.map((v) => this.bool(v)), elem: 'bool' };
  }
}

/** A half-open element range of a storage argument, for bindings that allow disjoint in-place use. */
export interface Range {
  arg: number;
  begin: number;
  end: number;
}

export interface Spec {
  /** 'new' for the Storage constructor, 'read' / 'write' for its methods */
  how?: Call['how'];
  /**
   * The binding takes one object of named fields: argument k of make() is field fields[k]
   * (the mutations still work on the list; the call builds the object from it).
   */
  fields?: readonly string[];
  /** a missing or extra argument is valid too (defaulted arguments, ignored extras) */
  varargs?: boolean;
  /** the storages may be on different devices (a copy between them) */
  anyDevice?: boolean;
  make(g: Gen): Arg[];
  /**
   * What a call whose output `out` (argument index) now shares its storage with argument
   * `other` must do: 'never' (default) means throw; 'elementwise': the kernel is written
   * for out == inp at the same elements (either outcome); ranges: throw when the element
   * ranges the call touches overlap, else either.
   */
  alias?: 'never' | 'elementwise' | ((args: Arg[]) => Range[]);
}

const numOf = (a: Arg): number => (a.t === 'num' && typeof a.v === 'number' ? a.v : NaN);
const prod = (xs: number[]) => xs.reduce((p, x) => p * x, 1);
// Elements a view of `shape` with non-negative `strides` reaches: 0 when empty.
const extent = (shape: number[], strides: number[]) =>
  prod(shape) === 0 ? 0 : 1 + shape.reduce((s, d, i) => s + (d - 1) * strides[i], 0);

const elementwise = (n: number, outs: number, ins: number) => (g: Gen): Arg[] => [
  ...Array.from({ length: outs }, () => g.out(n)),
  ...Array.from({ length: ins }, () => g.inp(n)),
];

const device = (g: Gen) => [g.str('cpu', ['cpu', 'cuda'])];

// The shape fields of the conv2d and unpartition_gate bindings, after their storages.
const CONV_SHAPE = ['N', 'Cin', 'H', 'W', 'Cout', 'kh', 'kw', 'strideH', 'strideW', 'padH', 'padW', 'groups'] as const;
const GATE_SHAPE = ['N', 'C', 'Hp', 'h', 'Wp', 'w'] as const;

/** A spec whose call draws its geometry first and builds the arguments from it. */
const fromGeom = <G>(geom: (g: Gen) => G, args: (g: Gen, geometry: G) => Arg[]): Spec => ({ make: (g) => args(g, geom(g)) });

// conv2d geometry: valid sizes (output at least 1 x 1), depthwise now and then.
function convGeom(g: Gen) {
  const G = g.r(1, 2);
  const depthwise = g.p(0.3);
  const Cin = G * (depthwise ? 1 : g.r(0, 2)), Cout = depthwise ? Cin : G * g.r(0, 2);
  const kh = g.r(1, 3), kw = g.r(1, 3), sh = g.r(1, 2), sw = g.r(1, 2), ph = g.r(0, 2), pw = g.r(0, 2);
  const H = Math.max(0, kh - 2 * ph) + g.r(0, 3), W = Math.max(0, kw - 2 * pw) + g.r(0, 3);
  const N = g.r(0, 2);
  const Ho = Math.floor((H + 2 * ph - kh) / sh) + 1, Wo = Math.floor((W + 2 * pw - kw) / sw) + 1;
  return {
    sizes: [N, Cin, H, W, Cout, kh, kw, sh, sw, ph, pw, G].map((v) => g.num(v)),
    inp: N * Cin * H * W, weight: Cout * (Cin / G) * kh * kw, out: N * Cout * Ho * Wo, Cout,
  };
}

// BatchNorm sizes (training needs two values per channel).
function bnSizes(g: Gen, train: boolean) {
  const C = g.r(0, 3);
  let N = g.r(0, 3), HW = g.r(0, 4);
  if (train && C > 0 && N * HW < 2) (N = 1), (HW = 2);
  return { N, C, HW, numel: N * C * HW, sizes: [g.num(N), g.num(C), g.num(HW)] };
}
const actArg = (g: Gen, act: number) => g.num(act, 'int');

// maxpool2d geometry: valid windows (padding at most half, a map of at least 1 x 1).
function poolGeom(g: Gen) {
  const kh = g.r(1, 3), kw = g.r(1, 3), sh = g.r(1, 3), sw = g.r(1, 3), ph = g.r(0, kh >> 1), pw = g.r(0, kw >> 1);
  const H = Math.max(1, kh - 2 * ph) + g.r(0, 3), W = Math.max(1, kw - 2 * pw) + g.r(0, 3), N = g.r(0, 2), C = g.r(0, 2);
  const Ho = Math.floor((H + 2 * ph - kh) / sh) + 1, Wo = Math.floor((W + 2 * pw - kw) / sw) + 1;
  return { sizes: [N, C, H, W, kh, kw, sh, sw, ph, pw].map((v) => g.num(v)), inp: N * C * H * W, out: N * C * Ho * Wo, plane: H * W };
}
const POOL_SHAPE = ['N', 'C', 'H', 'W', 'kh', 'kw', 'strideH', 'strideW', 'padH', 'padW'] as const;

// unpartition_gate geometry.
function gateGeom(g: Gen) {
  const v = [g.r(0, 2), g.r(0, 3), g.r(1, 2), g.r(1, 3), g.r(1, 2), g.r(1, 3)];
  return { numel: prod(v), planes: v[0] * v[1], sizes: v.map((x) => g.num(x)) };
}

function crossEntropy(soft: boolean, backward: boolean) {
  return (g: Gen): Arg[] => {
    const N = g.r(0, 4), K = g.r(1, 5);
    const target = soft ? g.inp(N * K, 'float32', { lo: 0, hi: 1 }) : g.inp(N, 'int64', { lo: 0, hi: K, int: true });
    const head = backward ? [g.out(N * K), g.inp(1), g.inp(N * 3)] : [g.out(1), g.out(N), g.out(N * 3)];
    return [...head, g.inp(N * K), target, g.num(N), g.num(K), g.float(g.rng.uniform() * 0.3)];
  };
}

// The element ranges of gemm's three operands (C first).
function gemmRanges(args: Arg[]): Range[] {
  const v = args.map(numOf);
  const [M, N, K, batch] = [v[3], v[4], v[5], v[6]];
  const tA = args[7].t === 'bool' && args[7].v, tB = args[8].t === 'bool' && args[8].v;
  const ext = (rows: number, cols: number, ld: number, stride: number) =>
    batch === 0 || rows === 0 || cols === 0 ? 0 : (batch - 1) * stride + (rows - 1) * ld + cols;
  const r = (arg: number, off: number, e: number): Range => ({ arg, begin: off, end: off + e });
  return [
    r(0, v[11], ext(M, N, v[12], v[13])),
    r(1, v[14], ext(tA ? K : M, tA ? M : K, v[15], v[16])),
    r(2, v[17], ext(tB ? N : K, tB ? K : N, v[18], v[19])),
  ];
}

export const SPECS: Record<string, Spec> = {
  Storage: {
    how: 'new',
    make: (g) => [g.str('cpu', ['cpu', 'cuda']), g.str(g.pick(['float32', 'int64']), ['float32', 'int64']), g.num(g.r(0, 16))],
  },
  'Storage.read': {
    how: 'read',
    varargs: true,
    make: (g) => {
      const n = g.r(0, 8), off = g.r(0, n);
      g.inp(n, g.pick(['float32', 'int64'] as const));
      return [{ ...g.num(off), opt: true } as Arg, { ...g.num(g.r(0, n - off)), opt: true } as Arg];
    },
  },
  'Storage.write': {
    how: 'write',
    varargs: true,
    make: (g) => {
      const n = g.r(0, 8), off = g.r(0, n), dtype = g.pick(['float32', 'int64'] as const);
      g.inp(n, dtype);
      return [{ t: 'ta', dtype, n: g.r(0, n - off) }, { ...g.num(off), opt: true } as Arg];
    },
  },
  liveStorages: { make: () => [] },
  runtimeInfo: { make: () => [] },
  cudaInfo: { make: () => [] },
  setNumThreads: { make: (g) => [g.num(g.r(1, 3))] },
  setTf32: { make: (g) => [g.bool()] },
  // avx2 only: every x86-64 CPU the tests run on has it, not always AVX-512
  setCpuIsa: { make: (g) => [g.str('avx2', ['avx2'])] },
  setPoison: { make: () => [{ t: 'bool', v: false }] },
  memoryStats: { make: device },
  resetPeakMemoryStats: { make: device },
  emptyCache: { make: device },
  copy_storage: {
    anyDevice: true,
    make: (g) => {
      const dtype = g.pick(['float32', 'int64'] as const);
      const n = g.r(0, 6), d = g.r(0, 3), s = g.r(0, 3);
      return [g.out(d + n, dtype), g.num(d), g.inp(s + n, dtype), g.num(s), g.num(n)];
    },
    alias: (a) => [
      { arg: 0, begin: numOf(a[1]), end: numOf(a[1]) + numOf(a[4]) },
      { arg: 2, begin: numOf(a[3]), end: numOf(a[3]) + numOf(a[4]) },
    ],
  },
  strided_copy: {
    make: (g) => {
      const dtype = g.pick(['float32', 'int64'] as const);
      const shape = Array.from({ length: g.r(0, 4) }, () => g.dim());
      const strides = shape.map(() => g.r(0, 6));
      const oo = g.r(0, 3), io = g.r(0, 3);
      return [g.out(oo + prod(shape), dtype), g.num(oo), g.inp(io + extent(shape, strides), dtype), g.num(io), g.ints(shape), g.ints(strides)];
    },
    alias: (a) => {
      const shape = a[4].t === 'arr' ? a[4].items.map(numOf) : [];
      const strides = a[5].t === 'arr' ? a[5].items.map(numOf) : [];
      return [
        { arg: 0, begin: numOf(a[1]), end: numOf(a[1]) + prod(shape) },
        { arg: 2, begin: numOf(a[3]), end: numOf(a[3]) + extent(shape, strides) },
      ];
    },
  },
  fill: {
    make: (g) => {
      const dtype = g.pick(['float32', 'int64'] as const);
      const off = g.r(0, 3), n = g.r(0, 6);
      const value = dtype === 'int64' ? g.num(g.r(-5, 5), 'int') : g.float();
      return [{ ...g.out(off + n, dtype), dtypeFree: true }, value, g.num(off), g.num(n)];
    },
  },
  add_scalar_i64: {
    make: (g) => {
      const off = g.r(0, 3), n = g.r(0, 4);
      return [g.out(off + n, 'int64'), g.num(g.r(-3, 3), 'int'), g.num(off), g.num(n)];
    },
  },
  binary_forward: {
    make: (g) => {
      const shape = Array.from({ length: g.r(0, 4) }, () => g.dim());
      const operand = () => {
        let acc = 1;
        const st: number[] = new Array(shape.length);
        for (let d = shape.length - 1; d >= 0; d--) {
          st[d] = g.p(0.3) ? 0 : g.p(0.2) ? g.r(1, 7) : acc;
          acc *= Math.max(shape[d], 1);
        }
        return st;
      };
      const sa = operand(), sb = operand();
      return [g.out(prod(shape)), g.inp(extent(shape, sa)), g.inp(extent(shape, sb)), g.str(g.pick(['add', 'sub', 'mul']), ['add', 'sub', 'mul']),
        g.ints(shape), g.ints(sa), g.ints(sb)];
    },
  },
  sum_to: {
    make: (g) => {
      const inShape = Array.from({ length: g.r(0, 4) }, () => g.dim());
      const outShape = inShape.map((d) => (g.p(0.5) ? 1 : d));
      return [g.out(prod(outShape)), g.inp(prod(inShape)), g.ints(inShape), g.ints(outShape)];
    },
  },
  bias_grad: {
    make: (g) => {
      const N = g.r(0, 3), C = g.r(0, 4), HW = g.r(0, 4);
      return [g.out(C), g.inp(N * C * HW), g.num(N), g.num(C), g.num(HW)];
    },
  },
  ...GEMM_SPECS,
  gemm_strided_batched: {
    fields: ['C', 'A', 'B', 'M', 'N', 'K', 'batch', 'transA', 'transB', 'alpha', 'beta', 'offC', 'ldc', 'strideC', 'offA', 'lda', 'strideA', 'offB', 'ldb', 'strideB'],
    make: (g) => {
      const M = g.r(0, 5), N = g.r(0, 5), K = g.r(0, 5), batch = g.r(0, 3);
      const tA = g.p(0.5), tB = g.p(0.5);
      const operand = (rows: number, cols: number, shared: boolean) => {
        const ld = Math.max(1, cols) + (g.p(0.3) ? g.r(1, 2) : 0);
        const stride = shared && g.p(0.3) ? 0 : Math.max(rows, 1) * ld + (g.p(0.3) ? g.r(1, 3) : 0);
        const off = g.r(0, 2);
        const e = batch === 0 || rows === 0 || cols === 0 ? 0 : (batch - 1) * stride + (rows - 1) * ld + cols;
        return { ld, stride, off, e };
      };
      const c = operand(M, N, false), a = operand(tA ? K : M, tA ? M : K, true), b = operand(tB ? N : K, tB ? K : N, true);
      return [g.out(c.off + c.e), g.inp(a.off + a.e), g.inp(b.off + b.e), g.num(M), g.num(N), g.num(K), g.num(batch), g.bool(tA), g.bool(tB),
        g.float(), g.float(g.pick([0, 1, 0.5])), g.num(c.off), g.num(c.ld), g.num(c.stride), g.num(a.off), g.num(a.ld), g.num(a.stride),
        g.num(b.off), g.num(b.ld), g.num(b.stride)];
    },
    alias: gemmRanges,
  },
  conv2d_forward: { ...fromGeom(convGeom, (g, c) => [g.out(c.out), g.inp(c.inp), g.inp(c.weight), g.maybe('in', c.Cout), ...c.sizes]), fields: ['out', 'inp', 'weight', 'bias', ...CONV_SHAPE] },
  conv2d_backward: { ...fromGeom(convGeom, (g, c) => {
    const dinp = g.p(0.7), dweight = g.p(0.7);
    return [g.maybe('out', c.inp, dinp), g.maybe('out', c.weight, dweight), g.maybe('out', c.Cout), g.inp(c.out),
      g.maybe('in', c.inp, dweight || g.p(0.3)), g.maybe('in', c.weight, dinp || g.p(0.3)), ...c.sizes];
  }), fields: ['dinp', 'dweight', 'dbias', 'dout', 'inp', 'weight', ...CONV_SHAPE] },
  batchnorm_forward_train: {
    // sync: the sums over a world of one (the fuzz child's) are the identity
    fields: ['out', 'meanSaved', 'invstdSaved', 'runningMean', 'runningVar', 'inp', 'residual', 'weight', 'bias', 'N', 'C', 'HW', 'momentum', 'eps', 'act', 'sync'],
    make: (g) => {
      const s = bnSizes(g, true), act = g.r(0, 2), running = g.p(0.7);
      return [g.out(s.numel), g.out(s.C), g.out(s.C), g.maybe('out', s.C, running), g.maybe('out', s.C, running), g.inp(s.numel),
        g.maybe('in', s.numel, act === 0 && g.p(0.4)), g.inp(s.C), g.inp(s.C), ...s.sizes, g.float(g.rng.uniform()), g.float(1e-5), actArg(g, act), g.bool()];
    },
  },
  batchnorm_forward_eval: {
    fields: ['out', 'inp', 'residual', 'runningMean', 'runningVar', 'weight', 'bias', 'N', 'C', 'HW', 'eps', 'act'],
    make: (g) => {
      const s = bnSizes(g, false), act = g.r(0, 2);
      return [g.out(s.numel), g.inp(s.numel), g.maybe('in', s.numel, act === 0 && g.p(0.4)), g.inp(s.C),
        g.inp(s.C, 'float32', { lo: 0.5, hi: 2 }), g.inp(s.C), g.inp(s.C), ...s.sizes, g.float(1e-5), actArg(g, act)];
    },
  },
  batchnorm_backward: {
    fields: ['dinp', 'dweight', 'dbias', 'dout', 'out', 'inp', 'meanSaved', 'invstdSaved', 'weight', 'bias', 'N', 'C', 'HW', 'act', 'sync', 'count'],
    make: (g) => {
      const s = bnSizes(g, false), act = g.r(0, 2), sync = g.p(0.5);
      // count: the forward's (N * HW; under sync at least that, the world's)
      const count = s.N * s.HW + (sync ? g.r(0, 2) : 0);
      return [g.out(s.numel), g.out(s.C), g.out(s.C), g.inp(s.numel), g.maybe('in', s.numel, act === 1), g.inp(s.numel), g.inp(s.C),
        g.inp(s.C, 'float32', { lo: 0.5, hi: 2 }), g.inp(s.C), g.maybe('in', s.C, act === 2), ...s.sizes, actArg(g, act), g.bool(sync), g.num(count)];
    },
  },
  batchnorm_backward_eval: {
    fields: ['dinp', 'dweight', 'dbias', 'dout', 'out', 'inp', 'runningMean', 'runningVar', 'weight', 'bias', 'N', 'C', 'HW', 'eps', 'act'],
    make: (g) => {
      const s = bnSizes(g, false), act = g.r(0, 2);
      return [g.out(s.numel), g.out(s.C), g.out(s.C), g.inp(s.numel), g.maybe('in', s.numel, act === 1), g.inp(s.numel), g.inp(s.C),
        g.inp(s.C, 'float32', { lo: 0.5, hi: 2 }), g.inp(s.C), g.maybe('in', s.C, act === 2), ...s.sizes, g.float(1e-5), actArg(g, act)];
    },
  },
  // every activation of native/ops/unary.h: <name>_forward(out, inp, n), <name>_backward(dinp, dout, saved, n)
  ...Object.fromEntries(Object.keys(UNARY_OPS).flatMap((name) => ([[`${name}_forward`, 1], [`${name}_backward`, 2]] as const).map(([key, inputs]) => [
    key, { make: (g: Gen) => { const n = g.r(0, 9); return [...elementwise(n, 1, inputs)(g), g.num(n)]; }, alias: 'elementwise' } satisfies Spec,
  ]))),
  axpy: { make: (g) => { const n = g.r(0, 9); return [g.out(n), g.inp(n), g.float(), g.num(n)]; }, alias: 'elementwise' },
  scale: { make: (g) => { const n = g.r(0, 9); return [g.out(n), g.inp(n), g.float(), g.float(), g.num(n)]; }, alias: 'elementwise' },
  unpartition_gate_forward: { ...fromGeom(gateGeom, (g, s) => [g.out(s.numel), g.inp(s.numel), g.inp(s.planes), g.maybe('in', s.numel), ...s.sizes]), fields: ['out', 'y', 'gate', 'residual', ...GATE_SHAPE] },
  unpartition_gate_backward: { ...fromGeom(gateGeom, (g, s) => [g.out(s.numel), g.out(s.planes), g.inp(s.numel), g.inp(s.numel), g.inp(s.planes), ...s.sizes]), fields: ['dy', 'dgate', 'dout', 'y', 'gate', ...GATE_SHAPE] },
  maxpool2d_forward: {
    ...fromGeom(poolGeom, (g, p) => [g.out(p.out), g.maybe('out', p.out, g.p(0.7), 'int64'), g.inp(p.inp), ...p.sizes]),
    fields: ['out', 'indices', 'inp', ...POOL_SHAPE],
  },
  maxpool2d_backward: {
    ...fromGeom(poolGeom, (g, p) => [g.out(p.inp), g.inp(p.out), g.inp(p.out, 'int64', { lo: -1, hi: p.plane + 1, int: true }), ...p.sizes]),
    fields: ['dinp', 'dout', 'indices', ...POOL_SHAPE],
  },
  cross_entropy_forward: { make: crossEntropy(false, false) },
  cross_entropy_backward: { make: crossEntropy(false, true) },
  cross_entropy_soft_forward: { make: crossEntropy(true, false) },
  cross_entropy_soft_backward: { make: crossEntropy(true, true) },
  correct_count: {
    make: (g) => {
      const N = g.r(0, 4), K = g.r(1, 5);
      return [g.out(1), g.inp(N * K), g.inp(N, 'int64', { lo: -1, hi: K + 1, int: true }), g.num(N), g.num(K)];
    },
  },
  adamw_step: {
    fields: ['params', 'expAvgs', 'expAvgSqs', 'grads', 'ns', 'steps', 'lr', 'beta1', 'beta2', 'eps', 'weightDecay'],
    make: (g) => {
      const ns = Array.from({ length: g.r(0, 3) }, () => g.r(0, 6));
      const lists = [0, 1, 2].map(() => g.list(ns.map((n) => g.out(n))));
      return [...lists, g.list(ns.map((n) => g.inp(n))), g.ints(ns), g.ints(ns.map(() => g.r(1, 5))),
        g.float(1e-3), g.float(0.9), g.float(0.999), g.float(1e-8), g.float(0.01)];
    },
  },
  // dist/bindings.cc. The fuzz child is a world of one, where every collective is the identity.
  distInfo: { make: () => [] },
  // 'mpi' would make the child join an MPI world of its own, which no later call can leave;
  // the launcher's tests (test/dist) cover it.
  distInit: { fields: ['engine', 'timeoutSeconds'], make: (g) => [g.str('local', ['local']), g.float(g.r(0, 600))] },
  distWorld: { make: () => [] },
  distAllreduce: {
    fields: ['buf', 'offset', 'count', 'op'],
    make: (g) => {
      const off = g.r(0, 3), n = g.r(0, 6), op = g.pick(['sum', 'max', 'min']);
      return [{ ...g.out(off + n, g.pick(['float32', 'int64'] as const)), dtypeFree: true }, g.num(off), g.num(n), g.str(op, ['sum', 'max', 'min'])];
    },
  },
  distBroadcast: {
    fields: ['buf', 'offset', 'count', 'root'],
    make: (g) => {
      const off = g.r(0, 3), n = g.r(0, 6);
      return [{ ...g.out(off + n, g.pick(['float32', 'int64'] as const)), dtypeFree: true }, g.num(off), g.num(n), g.num(0)];
    },
  },
  distBarrier: { make: () => [] },
  distSumStart: {
    fields: ['tensors', 'ns'],
    make: (g) => {
      const ns = Array.from({ length: g.r(0, 3) }, () => g.r(0, 6));
      return [g.list(ns.map((n) => g.inp(n))), g.ints(ns)];
    },
  },
  distSumWait: {
    fields: ['work', 'tensors', 'ns', 'scale'],
    make: (g) => {
      const ns = Array.from({ length: g.r(0, 3) }, () => g.r(0, 6));
      return [{ t: 'work', ns }, g.list(ns.map((n) => g.out(n))), g.ints(ns), g.float()];
    },
  },
  distFinalize: { make: () => [] },
  sgd_step: {
    make: (g) => {
      const ns = Array.from({ length: g.r(0, 3) }, () => g.r(0, 6));
      return [g.list(ns.map((n) => g.out(n))), g.list(ns.map((n) => g.inp(n))), g.ints(ns), g.float(0.1), g.float(0.01)];
    },
  },
  sgd_momentum_step: {
    fields: ['params', 'momentumBuffers', 'grads', 'ns', 'firsts', 'lr', 'momentum', 'dampening', 'weightDecay', 'nesterov'],
    make: (g) => {
      const ns = Array.from({ length: g.r(0, 3) }, () => g.r(0, 6));
      return [g.list(ns.map((n) => g.out(n))), g.list(ns.map((n) => g.out(n))), g.list(ns.map((n) => g.inp(n))), g.ints(ns),
        g.flags(ns.map(() => g.p(0.5))), g.float(0.1), g.float(0.9), g.float(0), g.float(0.01), g.bool()];
    },
  },
};

/** The outcome an aliasing mutation must have: storages of `out` and `other` made one. */
export function aliasExpect(spec: Spec, args: Arg[], out: number, other: number): Expect {
  const policy = spec.alias ?? 'never';
  if (policy === 'never') return 'throw';
  if (policy === 'elementwise') return 'either';
  const rs = policy(args);
  const a = rs.find((r) => r.arg === out), b = rs.find((r) => r.arg === other);
  if (!a || !b) return 'throw';
  const overlap = a.begin < a.end && b.begin < b.end && a.begin < b.end && b.begin < a.end;
  return overlap ? 'throw' : 'either';
}
