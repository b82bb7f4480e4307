// Collectives over the world (lib/dist/world.ts), in place on tensors of either device: MPI
// for CPU tensors, NCCL for CUDA tensors. Each is the identity on a world of one. Every
// rank must make the same collectives in the same order (each waits for the others); a
// rank that never comes is caught by the timeout, which aborts every rank.
import { noGrad } from '../autograd';
import { checkTensor } from '../check';
import { describe, fail, RepmlpError } from '../errors';
import { native, type NativeStorage } from '../native';
import { mulScalar } from '../ops/scalar';
import { Tensor } from '../tensor';

export type ReduceOp = 'sum' | 'mean' | 'max' | 'min';
const REDUCE_OPS: readonly ReduceOp[] = ['sum', 'mean', 'max', 'min'];

// A tensor a collective works on in place: live, contiguous, float32 or int64.
function inPlace(op: string, t: unknown): Tensor {
  if (!(t instanceof Tensor)) fail(op, 'tensor', 'a Tensor', describe(t));
  checkTensor(op, 'tensor', t, { dtype: t.dtype });
  if (!t.isContiguous) fail(op, 'tensor', 'a contiguous tensor (it is reduced in place)', 'a strided view');
  return t;
}

function worldSize(): number {
  return native.distWorld().size;
}

/**
 * Reduces `t` over every rank, in place, and returns it: 'sum' (the default), 'mean'
 * (float32 only), 'max' or 'min'. On the CPU every rank receives the very same bits (each
 * element is reduced on one rank, then gathered), so values updated from it stay identical.
 */
export function allReduce(t: Tensor, op: ReduceOp = 'sum'): Tensor {
  const x = inPlace('allReduce', t);
  if (!REDUCE_OPS.includes(op)) fail('allReduce', 'op', "'sum', 'mean', 'max' or 'min'", describe(op));
  if (op === 'mean' && x.dtype !== 'float32') fail('allReduce', 'tensor', "a float32 tensor for 'mean'", 'an int64 tensor');
  native.distAllreduce({ buf: x.storage, offset: x.offset, count: x.numel, op: op === 'mean' ? 'sum' : op });
  const n = worldSize();
  if (op === 'mean' && n > 1)
    noGrad(() => {
      const m = mulScalar(x, 1 / n);
      native.copy_storage(x.storage, x.offset, m.storage, m.offset, x.numel);
      m.dispose();
    });
  return x;
}

/** Copies rank `root`'s `t` to every rank, in place; returns it. */
export function broadcast(t: Tensor, root = 0): Tensor {
  const x = inPlace('broadcast', t);
  const n = worldSize();
  if (!Number.isInteger(root) || root < 0 || root >= n) fail('broadcast', 'root', `a rank in [0, ${n - 1}]`, describe(root));
  native.distBroadcast({ buf: x.storage, offset: x.offset, count: x.numel, root });
  return x;
}

/** Returns when every rank has called it (on CUDA, after this rank's queued work is done). */
export function barrier(): void {
  native.distBarrier();
}

/** Sums of whole numbers over every rank (counts: correct predictions, images), exactly. */
export function sumCounts(counts: readonly number[]): number[] {
  for (const c of counts) if (!Number.isSafeInteger(c)) fail('sumCounts', 'counts', 'safe integers', describe(c));
  if (worldSize() === 1 || counts.length === 0) return [...counts];
  const s = new native.Storage('cpu', 'int64', counts.length);
  try {
    s.write(BigInt64Array.from(counts, (c) => BigInt(c)));
    native.distAllreduce({ buf: s, offset: 0, count: counts.length, op: 'sum' });
    return Array.from(s.read() as BigInt64Array, Number);
  } finally {
    s.dispose();
  }
}

// Bytes of one int64 storage element: the broadcast of an object's JSON packs 8 bytes in each.
const PACK = 8;

// Broadcasts an int64 storage of n elements from root (a new one on every rank), filled by
// fill on root.
function broadcastWords(n: number, root: number, fill: (s: NativeStorage) => void): BigInt64Array {
  const s = new native.Storage('cpu', 'int64', n);
  try {
    if (native.distWorld().rank === root) fill(s);
    native.distBroadcast({ buf: s, offset: 0, count: n, root });
    return s.read() as BigInt64Array;
  } finally {
    s.dispose();
  }
}

/**
 * Rank `root`'s value (anything JSON can hold) on every rank: the others' arguments are
 * ignored. For the decisions all ranks must take alike (resume from a checkpoint, stop now).
 */
export function broadcastObject<T>(value: T, root = 0): T {
  const n = worldSize();
  if (!Number.isInteger(root) || root < 0 || root >= n) fail('broadcastObject', 'root', `a rank in [0, ${n - 1}]`, describe(root));
  if (n === 1) return value;
  const bytes = native.distWorld().rank === root ? new TextEncoder().encode(JSON.stringify(value) ?? 'null') : new Uint8Array(0);
  const length = Number(broadcastWords(1, root, (s) => s.write(BigInt64Array.of(BigInt(bytes.length))))[0]);
  const words = Math.ceil(length / PACK);
  const data = broadcastWords(words, root, (s) => {
    const padded = new Uint8Array(words * PACK);
    padded.set(bytes);
    s.write(new BigInt64Array(padded.buffer));
  });
  const text = new TextDecoder().decode(new Uint8Array(data.buffer, data.byteOffset, length));
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new RepmlpError(`broadcastObject: rank ${root}'s value did not arrive whole (${length} bytes)`);
  }
}
