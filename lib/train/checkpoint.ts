// Training checkpoints: one safetensors file, written atomically, holding the model's state
// dict under `model.` keys, the optimizer's per-parameter state under
// `optimizer.state.<index>.<name>` keys, and everything else (position in the run, loader
// and Rng state, best accuracy, config, options, optimizer hyperparameters) as JSON strings
// in the safetensors `__metadata__`.
import * as fs from 'node:fs';
import type { LoaderState } from '../data/loader';
import { RepmlpError } from '../errors';
import type { RepMLPNetConfig } from '../models/repmlpnet';
import type { BaseHyper, OptimizerStateDict } from '../optim/optimizer';
import { readStateDict } from '../pth';
import { parseSafetensors, writeSafetensors, type HostTensor } from '../safetensors';

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
  /** the test accuracy of the last evaluation (-1 before the first) */
  lastAccuracy: number;
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
  optimizer: OptimizerStateDict<H>;
  meta: CheckpointMeta;
}

const META_KEYS = ['epoch', 'batch', 'step', 'loader', 'bestAccuracy', 'lastAccuracy', 'epochLoss', 'epochCorrect', 'epochSeen', 'config', 'options'] as const;

/** Writes a checkpoint to `file` atomically (temporary file, fsync, rename). */
export function writeCheckpoint<H extends BaseHyper>(file: string, ck: Checkpoint<H>): void {
  const tensors = new Map<string, HostTensor>();
  for (const [k, v] of ck.model) tensors.set(`model.${k}`, v);
  for (const [i, entry] of Object.entries(ck.optimizer.state))
    for (const [name, v] of Object.entries(entry)) tensors.set(`optimizer.state.${i}.${name}`, v);
  const metadata: Record<string, string> = { format: 'repmlp-train', 'optimizer.paramGroups': JSON.stringify(ck.optimizer.paramGroups) };
  for (const k of META_KEYS) metadata[k] = JSON.stringify(ck.meta[k]);
  writeSafetensors(file, tensors, { metadata });
}

/** A Buffer over the same memory (no copy), so the public signatures need no Node.js types. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The `__metadata__` of a safetensors file ({} when it has none). */
export function readSafetensorsMetadata(bytes: Uint8Array, file: string): Record<string, string> {
  const buf = asBuffer(bytes);
  if (buf.length < 8) throw new RepmlpError(`safetensors: ${file} is not a valid safetensors file: too short`);
  const n = Number(buf.readBigUInt64LE(0));
  if (n > buf.length - 8) throw new RepmlpError(`safetensors: ${file} is not a valid safetensors file: truncated header`);
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as { __metadata__?: Record<string, string> };
  return header.__metadata__ ?? {};
}

/** True when the tensors are a training checkpoint (model. and optimizer. keys). */
export function isCheckpoint(keys: Iterable<string>): boolean {
  for (const k of keys) if (k.startsWith('model.')) return true;
  return false;
}

/** The model state dict of a checkpoint's tensors (the `model.` prefix removed). */
export function modelState(tensors: Map<string, HostTensor>): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const [k, v] of tensors) if (k.startsWith('model.')) out.set(k.slice(6), v);
  return out;
}

export interface ModelWeights {
  /** the model's state dict */
  state: Map<string, HostTensor>;
  /** the config and the arch name a training checkpoint recorded; null for plain state dicts */
  config: RepMLPNetConfig | null;
  arch: string | null;
}

/**
 * A model's weights from a state dict (.safetensors or .pth) or from a training checkpoint
 * (whose `model.` tensors are taken, with the config and arch it recorded).
 */
export function readModelWeights(file: string): ModelWeights {
  const tensors = readStateDict(file);
  if (!isCheckpoint(tensors.keys())) return { state: tensors, config: null, arch: null };
  const meta = readSafetensorsMetadata(fs.readFileSync(file), file);
  const config = meta.config ? (JSON.parse(meta.config) as RepMLPNetConfig) : null;
  const arch = meta.options ? ((JSON.parse(meta.options) as { arch?: string }).arch ?? null) : null;
  return { state: modelState(tensors), config, arch };
}

/** Reads a checkpoint written by writeCheckpoint. */
export function readCheckpoint<H extends BaseHyper = BaseHyper>(file: string): Checkpoint<H> {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw new RepmlpError(`checkpoint: could not read ${file}: ${(e as Error).message}`);
  }
  const tensors = parseSafetensors(buf, file);
  const md = readSafetensorsMetadata(buf, file);
  if (md.format !== 'repmlp-train')
    throw new RepmlpError(`checkpoint: expected a training checkpoint (metadata format 'repmlp-train') in ${file} but received ${md.format === undefined ? 'none' : `'${md.format}'`}`);
  const meta: Record<string, unknown> = {};
  for (const k of META_KEYS) {
    if (md[k] === undefined) throw new RepmlpError(`checkpoint: ${file} has no '${k}' in its metadata`);
    meta[k] = JSON.parse(md[k]);
  }
  const state: Record<number, Record<string, HostTensor>> = {};
  for (const [k, v] of tensors) {
    const m = /^optimizer\.state\.(\d+)\.(.+)$/.exec(k);
    if (!m) continue;
    (state[Number(m[1])] ??= {})[m[2]] = v;
  }
  const paramGroups = JSON.parse(md['optimizer.paramGroups'] ?? '[]') as OptimizerStateDict<H>['paramGroups'];
  return { model: modelState(tensors), optimizer: { state, paramGroups }, meta: meta as unknown as CheckpointMeta };
}
