// PyTorch checkpoints (.pth / .pt) without Python, in both formats torch.save writes: the zip
// archive of PyTorch 1.6 and later (zip.ts: `<root>/data.pkl`, a protocol-2 pickle, and one
// raw little-endian storage per `<root>/data/<key>`) and the legacy format before it
// (pth-legacy.ts). The pickle is read by an unpickler that runs no code (pickle.ts): objects
// of classes it does not know (a yacs CfgNode, an argparse Namespace, a scheduler's state, a
// whole nn.Module) become inert placeholders keeping their contents. Tensors are read as the
// views they are (pth-tensor.ts: any strides and offsets, shared storages).
//
// The state dict is found where checkpoints keep it: at the top, under 'state_dict',
// 'model', 'module', 'net' or 'network' (nested wrappers too), under 'ema' /
// 'state_dict_ema' / 'model_ema' when the EMA's weights are asked for, or in a pickled
// nn.Module (its _parameters, persistent _buffers and _modules); DataParallel's `module.`
// prefixes are removed. A state dict must be a dict or an OrderedDict: a placeholder holding
// tensors (a pickle that builds some other class around them) is refused.
//
// Reading is bounded: data.pkl (or the legacy file's pickles) at most PTH_MAX_PICKLE_BYTES,
// nesting at most PTH_MAX_PICKLE_DEPTH, no container inside itself, each storage exactly
// the bytes its tensors' pickle entries declare, deflated entries bounded (zip.ts).
import * as fs from 'node:fs';
import { RepmlpError } from '../errors';
import { PTH_MAX_PICKLE_DEPTH, storageOfPid, Unpickler } from './pickle';
import { brief, PyObject, TensorRef } from './pickle-values';
import { isLegacyPth, openLegacyPth } from './pth-legacy';
import { readTensor, type StorageSource } from './pth-tensor';
import { bytesText } from './read';
import { readSafetensors, type HostTensor } from './safetensors';
import { MAX_DEFLATE_RATIO, ZipReader } from './zip';

export { MAX_DEFLATE_RATIO, PTH_MAX_PICKLE_DEPTH };

/** The largest pickle read (a state dict's pickle is kB to a few MB; the tensors are separate). */
export const PTH_MAX_PICKLE_BYTES = 64 * 2 ** 20;

export interface PthReadOptions {
  /** the largest data.pkl accepted, in bytes (default PTH_MAX_PICKLE_BYTES) */
  maxPickleBytes?: number;
  /** take the EMA's state dict ('ema', 'state_dict_ema' or 'model_ema') instead of the model's */
  ema?: boolean;
}

/** A torch.save file opened: the saved object (inert) and where its storages are. */
interface OpenPth {
  format: 'zip' | 'legacy';
  root: unknown;
  /** the file and pickle for messages: `<file> (<root>/data.pkl)` */
  where: string;
  source: StorageSource;
  close(): void;
}

function openZip(file: string, maxPickle: number): OpenPth {
  const zip: ZipReader = new ZipReader(file);
  try {
    const pkl = [...zip.entries.keys()].find((n) => /^[^/]+\/data\.pkl$/.test(n));
    if (!pkl) zip.bad("no '<name>/data.pkl' entry");
    const prefix = pkl.slice(0, -'data.pkl'.length) + 'data/';
    const entry = zip.entries.get(pkl)!;
    if (entry.size > maxPickle)
      zip.bad(`its pickle '${pkl}' declares ${bytesText(entry.size)}, more than the ${bytesText(maxPickle)} limit of a state dict's pickle`);
    const where = `${file} (${pkl})`;
    const root = new Unpickler(zip.data(entry), where, storageOfPid).run().value;
    const source: StorageSource = {
      byteSize: (key) => zip.entries.get(prefix + key)?.size,
      read: (key, from, len) => zip.data(zip.entries.get(prefix + key)!, from, len),
      bad: (what) => zip.bad(what),
    };
    return { format: 'zip', root, where, source, close: () => zip.close() };
  } catch (e) {
    zip.close();
    throw e;
  }
}

/** The first bytes of a file (fewer when it is shorter); the error `<prefix>could not read <file>: ...`. */
function fileHead(file: string, n: number, prefix: string): Buffer {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    throw new RepmlpError(`${prefix}could not read ${file}: ${(e as Error).message}`);
  }
  try {
    const head = Buffer.alloc(n);
    return head.subarray(0, fs.readSync(fd, head, 0, n, 0));
  } finally {
    fs.closeSync(fd);
  }
}

function openPth(file: string, opts: PthReadOptions): OpenPth {
  const maxPickle = opts.maxPickleBytes ?? PTH_MAX_PICKLE_BYTES;
  if (!isLegacyPth(fileHead(file, 16, 'pth: '))) return openZip(file, maxPickle);
  const legacy = openLegacyPth(file, maxPickle);
  return { format: 'legacy', where: file, ...legacy };
}

// ---------------------------------------------------------------------------------------
// where the state dict is

const WRAPPER_KEYS = ['state_dict', 'model', 'module', 'net', 'network'];
const EMA_KEYS = ['ema', 'state_dict_ema', 'model_ema'];

const isTensorDict = (m: unknown): m is Map<unknown, TensorRef> =>
  m instanceof Map && m.size > 0 && [...m.values()].every((v) => v instanceof TensorRef);

/** The state of a pickled nn.Module (a placeholder): its _parameters, persistent _buffers and _modules, in state_dict() order. */
function moduleTensors(obj: PyObject, prefix = '', out = new Map<string, TensorRef>()): Map<string, TensorRef> {
  const st = obj.state;
  if (!(st instanceof Map)) return out;
  const skip = new Set(Array.isArray(st.get('_non_persistent_buffers_set')) ? (st.get('_non_persistent_buffers_set') as unknown[]) : []);
  for (const group of ['_parameters', '_buffers']) {
    const m = st.get(group);
    if (m instanceof Map) for (const [k, v] of m) if (v instanceof TensorRef && !(group === '_buffers' && skip.has(k))) out.set(prefix + String(k), v);
  }
  const children = st.get('_modules');
  if (children instanceof Map) for (const [k, v] of children) if (v instanceof PyObject) moduleTensors(v, `${prefix}${String(k)}.`, out);
  return out;
}

const isModule = (v: unknown): v is PyObject => v instanceof PyObject && v.state instanceof Map && v.state.get('_parameters') instanceof Map;

function keysText(m: Map<unknown, unknown>): string {
  const keys = [...m.keys()].slice(0, 20).map((k) => (typeof k === 'string' ? k : brief(k)));
  return `${keys.length ? keys.join(', ') : '(none)'}${m.size > 20 ? ', ...' : ''}`;
}

/** Where a state dict was found and its tensors by key (as saved, prefixes not yet removed). */
export interface StateDictRefs {
  /** the keys followed from the top, e.g. ['model']; a pickled module ends in '<class> object' */
  path: string[];
  tensors: Map<unknown, TensorRef>;
}

/** The state dict inside a checkpoint object (the graph is acyclic: checkNesting). */
export function locateStateDict(root: unknown, file: string, where: string, ema = false): StateDictRefs {
  const path: string[] = [];
  for (let at = root; ; ) {
    if (!ema && isTensorDict(at)) return { path, tensors: at };
    if (!ema && isModule(at)) return { path: [...path, `${at.cls} object`], tensors: moduleTensors(at) };
    if (at instanceof PyObject && isTensorDict(at.items))
      throw new RepmlpError(`pth: ${where}: the pickle calls ${at.cls}, which a state dict does not need (refused)`);
    if (!(at instanceof Map)) throw new RepmlpError(`pth: ${file} holds ${brief(at)} rather than a dict of tensors`);
    const choices = ema ? EMA_KEYS : WRAPPER_KEYS;
    const here = at;
    const key = choices.find((k) => here.get(k) instanceof Map || here.get(k) instanceof PyObject);
    if (key === undefined) {
      const looked = ema ? `the EMA's weights under ${EMA_KEYS.map((k) => `'${k}'`).join(', ')}` : `a dict of tensors, or one under ${WRAPPER_KEYS.map((k) => `'${k}'`).join(', ')}`;
      throw new RepmlpError(`pth: ${file} holds no ${ema ? "EMA's " : ''}state dict of tensors: its ${at === root ? 'top-level ' : ''}keys are ${keysText(at)} (looked for ${looked})`);
    }
    path.push(key);
    at = at.get(key);
    ema = false;
  }
}

/** The state dict's keys as strings, DataParallel's `module.` prefix removed when every key has it. */
function stateDictNames(tensors: Map<unknown, TensorRef>, source: StorageSource): Map<string, TensorRef> {
  for (const k of tensors.keys()) if (typeof k !== 'string') source.bad(`expected string keys in the state dict but received ${brief(k)}`);
  const names = [...tensors.keys()] as string[];
  const strip = names.every((k) => k.startsWith('module.'));
  return new Map(names.map((k) => [strip ? k.slice('module.'.length) : k, tensors.get(k)!]));
}

// ---------------------------------------------------------------------------------------
// reading

export interface PthCheckpoint {
  format: 'zip' | 'legacy';
  /** the saved object: Maps, arrays, numbers, strings, PyObject placeholders, TensorRefs (never executed) */
  root: unknown;
  /** where the state dict was found (the keys followed from the top) */
  path: string[];
  /** the state dict's tensors, described (for the elements, readPthCheckpoint's stateDict) */
  tensors: Map<string, TensorRef>;
}

/** What a .pth file holds, without reading any tensor's elements: the object and the state dict's description. */
export function describePth(file: string, opts: PthReadOptions = {}): PthCheckpoint {
  const pth = openPth(file, opts);
  try {
    const { path, tensors } = locateStateDict(pth.root, file, pth.where, opts.ema);
    return { format: pth.format, root: pth.root, path, tensors: stateDictNames(tensors, pth.source) };
  } finally {
    pth.close();
  }
}

/** A .pth file's object and its state dict read: float32 (other floats converted) and int64 (other integers widened). */
export function readPthCheckpoint(file: string, opts: PthReadOptions = {}): PthCheckpoint & { stateDict: Map<string, HostTensor> } {
  const pth = openPth(file, opts);
  try {
    const { path, tensors } = locateStateDict(pth.root, file, pth.where, opts.ema);
    const named = stateDictNames(tensors, pth.source);
    const stateDict = new Map<string, HostTensor>();
    for (const [name, t] of named) stateDict.set(name, readTensor(pth.source, t, name));
    return { format: pth.format, root: pth.root, path, tensors: named, stateDict };
  } finally {
    pth.close();
  }
}

/** The state dict of a PyTorch checkpoint, keyed by name with DataParallel's `module.` prefix removed. */
export function readPth(file: string, opts: PthReadOptions = {}): Map<string, HostTensor> {
  return readPthCheckpoint(file, opts).stateDict;
}

/** The kind of a weights file by its first bytes. */
export function weightsFileKind(file: string): 'pth' | 'safetensors' {
  const head = fileHead(file, 16, '');
  return (head.length >= 4 && head.readUInt32LE(0) === 0x04034b50) || isLegacyPth(head) ? 'pth' : 'safetensors';
}

/** Reads a state dict from a .safetensors file or a PyTorch checkpoint (by content; for the EMA's weights see readPth). */
export function readStateDict(file: string, opts: Omit<PthReadOptions, 'ema'> = {}): Map<string, HostTensor> {
  return weightsFileKind(file) === 'pth' ? readPth(file, opts) : readSafetensors(file);
}
