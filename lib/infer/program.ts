// Inference programs: a list of kernel calls (steps) over the plan's storages, encoded once
// into the Float64Array that native infer_run checks and runs in one call (native/ops/infer.cc).
// A step names its fields as the kernel's binding does; its storages are Refs (which storage,
// from which element), and each Ref gives its field's off<Field> offset when encoded.
import { fail } from '../errors';
import { native, type GemmFusedArgs, type NativeStorage } from '../native';

/** Where an operand lives: weight `index`, the buffer arena, the input or the output, from element `offset`. */
export type Ref = { at: 'weight'; index: number; offset: number } | { at: 'arena' | 'input' | 'output'; offset: number };

/** A binding's argument object with its storages as Refs and its off* fields left to the Refs. */
type Fields<T> = {
  [K in keyof T as K extends `off${string}` ? never : K]: T[K] extends NativeStorage ? Ref : T[K] extends NativeStorage | null ? Ref | null : T[K];
};

export type GemmStep = { kind: 'gemm' } & Fields<GemmFusedArgs>;
/** out (rows) = the sums of the rows of inp (rows, cols). */
export interface RowSumStep {
  kind: 'rowsum';
  out: Ref;
  inp: Ref;
  rows: number;
  cols: number;
}
/** out (n0 * ... * n5) dense = the view of inp with sizes n_i and strides s_i. */
export interface CopyStep {
  kind: 'copy';
  out: Ref;
  inp: Ref;
  n0: number; n1: number; n2: number; n3: number; n4: number; n5: number;
  s0: number; s1: number; s2: number; s3: number; s4: number; s5: number;
}
/** unpartition_gate_forward: out (N, C, Hp*h, Wp*w) = unpartition(y) * gate + residual. */
export interface GateStep {
  kind: 'gate';
  out: Ref;
  y: Ref;
  gate: Ref;
  residual: Ref | null;
  N: number; C: number; Hp: number; h: number; Wp: number; w: number;
}
/** ffn_forward (native/ops/ffn.h): out (N, C, HW) = y + w2 @ gelu(w1 @ y + b1) + b2, w1 (Ch, C) and w2 (C, Ch) packed. */
export interface FfnStep {
  kind: 'ffn';
  out: Ref;
  y: Ref;
  w1: Ref;
  b1: Ref;
  w2: Ref;
  b2: Ref;
  N: number; C: number; Ch: number; HW: number;
}
/** A step, labelled with where in the network it is and what it does ('stage 0 block 1 ffn'). */
export type Step = (GemmStep | RowSumStep | CopyStep | GateStep | FfnStep) & { label?: string };

/** A step's multiply-adds times two (0 for one without a product). */
export function stepFlops(s: Step): number {
  if (s.kind === 'gemm') return 2 * s.M * s.N * s.K * s.batch;
  if (s.kind === 'ffn') return 4 * s.N * s.C * s.Ch * s.HW;
  return 0;
}

/** The strided copy of a view of at most 6 dimensions (leading size-1 dimensions added). */
export function copyStep(out: Ref, inp: Ref, shape: readonly number[], strides: readonly number[]): CopyStep {
  const pad = 6 - shape.length;
  const n = [...new Array<number>(pad).fill(1), ...shape], s = [...new Array<number>(pad).fill(0), ...strides];
  return {
    kind: 'copy', out, inp,
    n0: n[0], n1: n[1], n2: n[2], n3: n[3], n4: n[4], n5: n[5],
    s0: s[0], s1: s[1], s2: s[2], s3: s[3], s4: s[4], s5: s[5],
  };
}

/** An encoded program: the values, and the elements holding an offset into the input (set per run). */
export interface Program {
  code: Float64Array;
  inputSlots: { slot: number; offset: number }[];
}

let schema: Map<string, { code: number; fields: string[] }> | null = null;

function kinds(): Map<string, { code: number; fields: string[] }> {
  schema ??= new Map(native.infer_schema().map((k, code) => [k.kind, { code, fields: k.fields }]));
  return schema;
}

function isRef(v: unknown): v is Ref {
  return typeof v === 'object' && v !== null && 'at' in v;
}

/** The storage field an off<Field> field belongs to: Field or field. */
function storageField(step: Record<string, unknown>, off: string): string | null {
  const rest = off.slice(3);
  const lower = rest[0].toLowerCase() + rest.slice(1);
  if (rest in step) return rest;
  return lower in step ? lower : null;
}

/**
 * The program of `steps`; storages are numbered weights first (0 .. weights - 1), then the
 * arena, the input and the output.
 */
export function encode(steps: readonly Step[], weights: number): Program {
  const index = (r: Ref) => (r.at === 'weight' ? r.index : weights + ['arena', 'input', 'output'].indexOf(r.at));
  const values: number[] = [], inputSlots: Program['inputSlots'] = [];
  for (const step of steps) {
    const kind = kinds().get(step.kind);
    if (!kind) fail('infer', 'step', 'a step kind the addon runs', step.kind);
    const fields = step as unknown as Record<string, unknown>;
    values.push(kind.code);
    for (const f of kind.fields) {
      const of = f.startsWith('off') ? storageField(fields, f) : null;
      const v = of !== null ? fields[of] : fields[f];
      if (v === undefined) fail('infer', `step ${step.kind}`, `field ${f}`, 'none');
      if (of !== null) {
        if (isRef(v) && v.at === 'input') inputSlots.push({ slot: values.length, offset: v.offset });
        values.push(isRef(v) ? v.offset : 0);
      } else values.push(v === null ? -1 : isRef(v) ? index(v) : typeof v === 'boolean' ? Number(v) : (v as number));
    }
  }
  return { code: Float64Array.from(values), inputSlots };
}

/**
 * Runs the program over its storages (weights, arena, input, output), the input read from
 * element inputOffset; stepSeconds, when given, receives each step's wall time.
 */
export function runProgram(p: Program, storages: NativeStorage[], inputOffset: number, stepSeconds: Float64Array | null = null): void {
  for (const s of p.inputSlots) p.code[s.slot] = inputOffset + s.offset;
  native.infer_run({ program: p.code, storages, stepSeconds });
}
