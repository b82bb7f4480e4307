// What a weights file holds, for `repmlp inspect`, without reading any tensor's elements:
// a .pth (either format) through its inert object graph, a safetensors file through its
// header (repmlp's training checkpoints through their metadata too); then which RepMLPNet
// the state dict's keys are (lib/models/infer.ts).
import { describePth, locateStateDict, weightsFileKind } from '../io/pth';
import { brief, PyObject, TensorRef } from '../io/pickle-values';
import { dottedFields, fieldAt, fieldsOf, isScalar, toJson } from '../io/pyvalue';
import { readFileBounded } from '../io/read';
import { parseSafetensorsHeader } from '../io/safetensors';
import { inferArchitecture, type InferredArch } from '../models/infer';

export interface TensorInfo {
  name: string;
  dtype: string;
  shape: number[];
}

export interface FileContents {
  file: string;
  format: 'pth (zip)' | 'pth (legacy)' | 'safetensors' | 'safetensors (repmlp training checkpoint)';
  /** the top-level entries with a one-line summary each (a .pth's dict, a checkpoint's metadata) */
  entries: { key: string; summary: string }[];
  /** the state dict: where it was found and its tensors */
  stateDict: { at: string; tensors: TensorInfo[] };
  /** the EMA's state dict, when the file keeps one: where, and how many tensors */
  ema: { at: string; tensors: number } | null;
  /** the scalar entries (epoch, accuracies, arch names) */
  scalars: Record<string, unknown>;
  /** the training config's fields, dotted (MODEL.ARCH), and its class */
  config: { class: string; fields: Record<string, unknown> } | null;
  architecture: InferredArch;
  /** the whole object as JSON (a .pth's), for --json */
  object?: unknown;
}

function tensorInfos(tensors: Iterable<[string, TensorRef]>): TensorInfo[] {
  return [...tensors].map(([name, t]) => ({ name, dtype: t.dtype, shape: [...t.shape] }));
}

/** A one-line summary of a top-level value. */
function summary(v: unknown): string {
  if (isScalar(v) || v === null) return brief(v);
  if (v instanceof TensorRef) return `tensor ${v.dtype} [${v.shape}]`;
  const fields = fieldsOf(v);
  const kind = v instanceof PyObject ? `${v.cls} object` : v instanceof Map ? 'dict' : Array.isArray(v) ? `list of ${v.length}` : brief(v);
  if (!fields) return kind;
  const tensors = [...fields.values()].filter((x) => x instanceof TensorRef).length;
  if (tensors === fields.size && tensors > 0) return `state dict of ${tensors} tensors`;
  const keys = [...fields.keys()].slice(0, 6).map(String).join(', ');
  return `${kind} of ${fields.size} ${fields.size === 1 ? 'entry' : 'entries'} (${keys}${fields.size > 6 ? ', ...' : ''})`;
}

function configOf(v: unknown): FileContents['config'] {
  if (!fieldsOf(v)) return null;
  const fields = Object.fromEntries([...dottedFields(v)].map(([k, x]) => [k, toJson(x)]));
  return { class: v instanceof PyObject ? v.cls : 'dict', fields };
}

function pthContents(file: string): FileContents {
  const d = describePth(file);
  let ema: FileContents['ema'] = null;
  try {
    const e = locateStateDict(d.root, file, file, true);
    ema = { at: e.path.join('.'), tensors: e.tensors.size };
  } catch {
    // no EMA kept
  }
  // the entries of a checkpoint dict (not those of a bare state dict, nor a pickled module's attributes)
  const top = d.root instanceof Map && d.path.length > 0 ? d.root : new Map<unknown, unknown>();
  const scalars = Object.fromEntries([...top].filter(([, v]) => isScalar(v)).map(([k, v]) => [String(k), toJson(v)]));
  const cfg = fieldAt(d.root, 'config') ?? fieldAt(d.root, 'args');
  return {
    file, format: d.format === 'zip' ? 'pth (zip)' : 'pth (legacy)',
    entries: [...top].map(([k, v]) => ({ key: String(k), summary: summary(v) })),
    stateDict: { at: d.path.join('.') || '(top level)', tensors: tensorInfos(d.tensors) },
    ema, scalars, config: configOf(cfg),
    architecture: inferArchitecture(new Map([...d.tensors].map(([k, t]) => [k, t.shape]))),
    object: toJson(d.root),
  };
}

/** A metadata value as JSON when it is JSON (repmlp's checkpoints store JSON strings), else the string. */
function metadataValue(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}

/** safetensors dtypes under the names a .pth's tensors are shown with. */
const DTYPE_NAMES: Readonly<Record<string, string>> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16', I64: 'int64' };

function safetensorsContents(file: string): FileContents {
  const header = parseSafetensorsHeader(readFileBounded(file, { op: 'safetensors' }), file);
  const md = Object.fromEntries(Object.entries(header.metadata).map(([k, v]) => [k, metadataValue(v)]));
  const training = header.metadata.format === 'repmlp-train';
  const under = (prefix: string) => header.entries.filter((e) => e.name.startsWith(prefix))
    .map((e): TensorInfo => ({ name: e.name.slice(prefix.length), dtype: DTYPE_NAMES[e.dtype], shape: e.shape }));
  const state = under(training ? 'model.' : '');
  const emaCount = training ? under('ema.').length : 0;
  const { config, ...rest } = md;
  return {
    file, format: training ? 'safetensors (repmlp training checkpoint)' : 'safetensors',
    entries: Object.entries(md).map(([key, v]) => ({ key, summary: typeof v === 'object' && v !== null ? JSON.stringify(v).slice(0, 80) : String(v) })),
    stateDict: { at: training ? 'model.*' : '(top level)', tensors: state },
    ema: emaCount ? { at: 'ema.*', tensors: emaCount } : null,
    scalars: Object.fromEntries(Object.entries(rest).filter(([, v]) => isScalar(v))),
    config: typeof config === 'object' && config !== null ? { class: 'RepMLPNetConfig', fields: config as Record<string, unknown> } : null,
    architecture: inferArchitecture(new Map(state.map((t) => [t.name, t.shape]))),
  };
}

/** What `file` holds (a .pth or a safetensors file, told by content). */
export function fileContents(file: string): FileContents {
  return weightsFileKind(file) === 'pth' ? pthContents(file) : safetensorsContents(file);
}
