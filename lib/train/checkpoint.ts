// Training checkpoints: one safetensors file, written atomically, holding the model's state
// dict under `model.` keys, the EMA of its weights (when the run keeps one) under `ema.`
// keys, the optimizer's per-parameter state under `optimizer.state.<index>.<name>` keys,
// and everything else (position in the run, loader and Rng state, best accuracy, config,
// options, optimizer hyperparameters) as JSON strings in the safetensors `__metadata__`.
import type { LoaderState } from '../data/loader';
import { modelCardMetadata, readModelCard, type ModelCard } from '../data/model-card';
import { RepmlpError, shapeStr } from '../errors';
import { readFileBounded } from '../io/read';
import type { RepMLPNetConfig } from '../models/repmlpnet';
import type { BaseHyper, OptimizerStateDict } from '../optim/optimizer';
import { readPthCheckpoint, readStateDict, weightsFileKind } from '../io/pth';
import { fieldAt } from '../io/pyvalue';
import { parseSafetensors, parseSafetensorsMetadata, readSafetensors, writeSafetensors, type HostTensor } from '../io/safetensors';

/** Where a run stands and what it needs to continue exactly. */
export interface CheckpointMeta {
  /** the epoch in progress (0-based) */
  epoch: number;
  /** batches of that epoch already trained */
  batch: number;
  /** optimizer steps so far */
  step: number;
  /** the training loader's state() for the next batch */
  loader: LoaderState;
  /** the best test accuracy so far (-1 before the first evaluation) */
  bestAccuracy: number;
  /** the test accuracy of the last evaluation (-1 before the first), and its top-5 (-1 when not given) */
  lastAccuracy: number;
  lastTop5?: number;
  /** the same for the EMA of the weights (-1 before the first evaluation, without one, or when not given) */
  bestEmaAccuracy?: number;
  lastEmaAccuracy?: number;
  lastEmaTop5?: number;
  /** the epoch's running sums: train loss (over batches), correct and seen images */
  epochLoss: number;
  epochCorrect: number;
  epochSeen: number;
  /** the model config and the (JSON-safe) training options */
  config: unknown;
  options: unknown;
}

export interface Checkpoint<H extends BaseHyper = BaseHyper> {
  model: Map<string, HostTensor>;
  /** the EMA's state dict; absent or null when the run keeps none */
  ema?: Map<string, HostTensor> | null;
  optimizer: OptimizerStateDict<H>;
  meta: CheckpointMeta;
  /** the run's model card, written into the metadata beside the run's position */
  card?: ModelCard | null;
}

/** Where a run stands with every field filled in, as readCheckpoint returns it and the trainer keeps it. */
export type RunMeta = Required<CheckpointMeta>;

/** A checkpoint as read back: every metadata field, and the EMA or null. */
export interface ReadCheckpoint<H extends BaseHyper = BaseHyper> extends Checkpoint<H> {
  ema: Map<string, HostTensor> | null;
  meta: RunMeta;
}

const META_KEYS = ['epoch', 'batch', 'step', 'loader', 'bestAccuracy', 'lastAccuracy', 'epochLoss', 'epochCorrect', 'epochSeen', 'config', 'options'] as const;
/** Keys that checkpoints written before they existed lack, with the value they stood for. */
const LATER_META_KEYS = { lastTop5: -1, bestEmaAccuracy: -1, lastEmaAccuracy: -1, lastEmaTop5: -1 } as const;
const WRITTEN_META_KEYS = [...META_KEYS, ...Object.keys(LATER_META_KEYS)] as (keyof CheckpointMeta)[];

/** Writes a checkpoint to `file` atomically (temporary file, fsync, rename). */
export function writeCheckpoint<H extends BaseHyper>(file: string, ck: Checkpoint<H>): void {
  const tensors = new Map<string, HostTensor>();
  for (const [k, v] of ck.model) tensors.set(`model.${k}`, v);
  for (const [k, v] of ck.ema ?? []) tensors.set(`ema.${k}`, v);
  for (const [i, entry] of Object.entries(ck.optimizer.state))
    for (const [name, v] of Object.entries(entry)) tensors.set(`optimizer.state.${i}.${name}`, v);
  const metadata: Record<string, string> = {
    ...(ck.card ? modelCardMetadata(ck.card) : {}), format: 'repmlp-train', 'optimizer.paramGroups': JSON.stringify(ck.optimizer.paramGroups),
  };
  const meta: RunMeta = { ...LATER_META_KEYS, ...ck.meta };
  for (const k of WRITTEN_META_KEYS) metadata[k] = JSON.stringify(meta[k]);
  writeSafetensors(file, tensors, { metadata });
}

/** The `__metadata__` of a safetensors file ({} when it has none). */
export function readSafetensorsMetadata(bytes: Uint8Array, file: string): Record<string, string> {
  return parseSafetensorsMetadata(bytes, file);
}

/** A JSON value of the metadata, with the file and the key in the error when it is not JSON. */
function metaJson(md: Record<string, string>, key: string, file: string): unknown {
  try {
    return JSON.parse(md[key]);
  } catch (e) {
    throw new RepmlpError(`checkpoint: expected JSON for metadata '${key}' in ${file} but received ${JSON.stringify(md[key].slice(0, 40))} (${(e as Error).message})`);
  }
}

/** True when the tensors are a training checkpoint (model. and optimizer. keys). */
export function isCheckpoint(keys: Iterable<string>): boolean {
  for (const k of keys) if (k.startsWith('model.')) return true;
  return false;
}

/** The model state dict of a checkpoint's tensors (the `model.` prefix removed), or another `prefix`'s. */
export function modelState(tensors: Map<string, HostTensor>, prefix = 'model.'): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const [k, v] of tensors) if (k.startsWith(prefix)) out.set(k.slice(prefix.length), v);
  return out;
}

export interface ModelWeights {
  /** the model's state dict */
  state: Map<string, HostTensor>;
  /** the config and the arch name the file recorded (a model card, or a training checkpoint's metadata); null when none */
  config: RepMLPNetConfig | null;
  /** the arch name a training checkpoint recorded (repmlp's options.arch, the reference code's config.MODEL.ARCH), or null */
  arch: string | null;
  /** the model card in the file's metadata (weights written by repmlp train); null when none */
  card: ModelCard | null;
}

/** True when the bytes are a zip archive (torch.save's .pth), which holds no safetensors metadata. */
const isZip = (b: Uint8Array) => b.length >= 4 && b[0] === 0x50 && b[1] === 0x4b && b[2] === 0x03 && b[3] === 0x04;

/** The tensors of a weights file (read as every command reads them) and its metadata ({} for a .pth). */
function readTensorsAndMetadata(file: string): { tensors: Map<string, HostTensor>; meta: Record<string, string> } {
  const tensors = readStateDict(file);
  const bytes = readFileBounded(file, { op: 'safetensors' });
  return { tensors, meta: isZip(bytes) ? {} : readSafetensorsMetadata(bytes, file) };
}

/** The arch name a training checkpoint of the reference code recorded: config.MODEL.ARCH (its yacs config), or null. */
function referenceArch(root: unknown): string | null {
  const arch = fieldAt(root, 'config', 'MODEL', 'ARCH');
  return typeof arch === 'string' ? arch : null;
}

/**
 * A model's weights from a state dict (.safetensors or .pth) or from a training checkpoint:
 * repmlp's (its `model.` tensors, or with `ema` its `ema.` tensors, with the config, the arch
 * and the model card its metadata recorded) or the reference code's .pth (under 'model', or
 * with `ema` under 'ema', and the arch its config names).
 */
export function readModelWeights(file: string, opts: { ema?: boolean } = {}): ModelWeights {
  if (weightsFileKind(file) === 'pth') {
    const ck = readPthCheckpoint(file, { ema: opts.ema });
    return { state: ck.stateDict, config: null, arch: referenceArch(ck.root), card: null };
  }
  const { tensors, meta } = readTensorsAndMetadata(file);
  const card = readModelCard(meta, file);
  const checkpoint = isCheckpoint(tensors.keys());
  if (opts.ema && !checkpoint)
    throw new RepmlpError(`checkpoint: expected a training checkpoint with an EMA of the weights (ema.* tensors) in ${file} but received a plain state dict`);
  const state = checkpoint ? modelState(tensors, opts.ema ? 'ema.' : 'model.') : tensors;
  if (opts.ema && state.size === 0) throw new RepmlpError(`checkpoint: ${file} keeps no EMA of the weights (its run was trained without --ema)`);
  if (card) return { state, config: card.config, arch: card.arch, card };
  if (!checkpoint) return { state, config: null, arch: null, card: null };
  const config = meta.config ? (metaJson(meta, 'config', file) as RepMLPNetConfig) : null;
  const options = meta.options ? metaJson(meta, 'options', file) : null;
  const arch = typeof options === 'object' && options !== null && typeof (options as { arch?: unknown }).arch === 'string' ? (options as { arch: string }).arch : null;
  return { state, config, arch, card: null };
}

/** Reads a checkpoint written by writeCheckpoint. */
export function readCheckpoint<H extends BaseHyper = BaseHyper>(file: string): ReadCheckpoint<H> {
  const buf = readFileBounded(file, { op: 'checkpoint' });
  const tensors = parseSafetensors(buf, file);
  const md = readSafetensorsMetadata(buf, file);
  if (md.format !== 'repmlp-train')
    throw new RepmlpError(`checkpoint: expected a training checkpoint (metadata format 'repmlp-train') in ${file} but received ${md.format === undefined ? 'none' : `'${md.format}'`}`);
  const meta: Record<string, unknown> = {};
  for (const k of META_KEYS) {
    if (md[k] === undefined) throw new RepmlpError(`checkpoint: ${file} has no '${k}' in its metadata`);
    meta[k] = metaJson(md, k, file);
  }
  for (const [k, dflt] of Object.entries(LATER_META_KEYS)) meta[k] = md[k] === undefined ? dflt : metaJson(md, k, file);
  const state: Record<number, Record<string, HostTensor>> = {};
  for (const [k, v] of tensors) {
    const m = /^optimizer\.state\.(\d+)\.(.+)$/.exec(k);
    if (!m) continue;
    (state[Number(m[1])] ??= {})[m[2]] = v;
  }
  const paramGroups = (md['optimizer.paramGroups'] === undefined ? [] : metaJson(md, 'optimizer.paramGroups', file)) as OptimizerStateDict<H>['paramGroups'];
  if (!Array.isArray(paramGroups)) throw new RepmlpError(`checkpoint: expected an array for metadata 'optimizer.paramGroups' in ${file} but received ${typeof paramGroups}`);
  const ema = modelState(tensors, 'ema.');
  return { model: modelState(tensors), ema: ema.size ? ema : null, optimizer: { state, paramGroups }, meta: meta as unknown as RunMeta };
}

/** A parameter as the optimizer sees it: its name in the model and its shape. */
export interface ParamSlot {
  name: string;
  shape: readonly number[];
}

/**
 * What each per-parameter state tensor must look like: the parameter's shape, or one
 * element (a step count). An empty layout: the optimizer keeps no state (SGD without momentum).
 */
export type StateLayout = Record<string, 'param' | 'count'>;

/**
 * Checks a checkpoint's optimizer state against the optimizer it is to resume, before
 * anything is loaded: the same parameter groups with the same number of parameters, and
 * after step 1 a state entry for every parameter (every parameter of a RepMLPNet gets a
 * gradient at every step) holding exactly the tensors of `layout`, each of the right
 * shape. `params` are the optimizer's parameters in its index order (groups concatenated).
 * Errors name the file, the parameter and the key.
 */
export function checkOptimizerState(
  file: string, sd: OptimizerStateDict<BaseHyper>, params: readonly ParamSlot[], groupSizes: readonly number[], step: number, layout: StateLayout, op = 'checkpoint',
): void {
  const groups = sd.paramGroups;
  if (groups.length !== groupSizes.length)
    throw new RepmlpError(`${op}: expected ${groupSizes.length} optimizer parameter groups in ${file} but received ${groups.length}`);
  groups.forEach((g, i) => {
    const n = Array.isArray(g?.params) ? g.params.length : -1;
    if (n !== groupSizes[i]) throw new RepmlpError(`${op}: expected ${groupSizes[i]} parameters in optimizer group ${i} of ${file} but received ${n < 0 ? 'none' : n}`);
  });
  for (const key of Object.keys(sd.state)) {
    const i = Number(key);
    if (!Number.isInteger(i) || i < 0 || i >= params.length)
      throw new RepmlpError(`${op}: expected optimizer state for parameters 0..${params.length - 1} in ${file} but received an entry for parameter ${key} (keys optimizer.state.${key}.*)`);
  }
  params.forEach((p, i) => {
    const entry = sd.state[i];
    if (entry === undefined) {
      if (step > 0 && Object.keys(layout).length > 0) throw new RepmlpError(`${op}: expected the optimizer state of parameter '${p.name}' (optimizer.state.${i}.*) in ${file} but received none; the checkpoint is incomplete`);
      return;
    }
    checkStateEntry(file, entry, p, i, layout, op);
  });
}

function checkStateEntry(file: string, entry: Record<string, HostTensor>, p: ParamSlot, i: number, layout: StateLayout, op: string): void {
  for (const [name, kind] of Object.entries(layout)) {
    const key = `optimizer.state.${i}.${name}`;
    const h = entry[name];
    const shape = kind === 'param' ? p.shape : null;
    const want = shape ? `a float32 tensor of shape ${shapeStr(shape)}` : 'a one-element tensor';
    if (h === undefined) throw new RepmlpError(`${op}: expected ${want} for ${key} (parameter '${p.name}') in ${file} but received none`);
    const ok = shape ? h.dtype === 'float32' && shapeStr(h.shape) === shapeStr(shape) : h.data.length === 1;
    if (!ok) throw new RepmlpError(`${op}: expected ${want} for ${key} (parameter '${p.name}') in ${file} but received ${h.dtype === 'int64' ? 'an' : 'a'} ${h.dtype} tensor of shape ${shapeStr(h.shape)}`);
  }
  const names = Object.keys(layout);
  for (const name of Object.keys(entry))
    if (!(name in layout)) throw new RepmlpError(`${op}: expected ${names.length ? `only ${names.join(', ')} in the` : 'no'} optimizer state of parameter '${p.name}' in ${file} but received optimizer.state.${i}.${name}`);
}
