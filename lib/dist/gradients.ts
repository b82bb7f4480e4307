// Gradients averaged over the world in buckets, as PyTorch's DistributedDataParallel does:
// the parameters, in reverse order (about the order backward completes their gradients),
// are cut into buckets of at most bucketBytes; a bucket's allreduce starts as soon as every
// gradient in it is complete and every earlier bucket has started, so that all ranks start
// the same buckets in the same order, and runs while backward goes on (on the CPU on the
// communication thread, on CUDA in stream order). finish() waits for every bucket and
// writes the averages back into the .grad tensors.
import { keep } from '../scope';
import { zeros } from '../creation';
import { native, type PendingSumHandle } from '../native';
import type { Tensor } from '../tensor';

/** Parameters in buckets of at most `bytes` of float32 gradients (a larger parameter alone), last parameters first. */
export function planBuckets(params: readonly Tensor[], bytes: number): Tensor[][] {
  const buckets: Tensor[][] = [];
  let current: Tensor[] = [], size = 0;
  for (const p of [...params].reverse()) {
    if (current.length > 0 && size + p.numel * 4 > bytes) {
      buckets.push(current);
      current = [];
      size = 0;
    }
    current.push(p);
    size += p.numel * 4;
  }
  if (current.length > 0) buckets.push(current);
  return buckets;
}

// p.grad as a dense tensor from its storage's first element (what the native sum copies),
// made of zeros when no gradient reached p.
function denseGrad(p: Tensor): Tensor {
  const g = p.grad;
  if (g && !g.disposed && g.offset === 0 && g.isContiguous) return g;
  const d = keep(g && !g.disposed ? g.contiguous() : zeros(p.shape, { device: p.device }));
  if (g && d !== g) g.dispose();
  p.grad = d;
  return d;
}

/** One backward's reduction of the gradients of `buckets`, averaged over `worldSize` ranks. */
export class GradientReducer {
  private readonly pending = new Set<Tensor>();
  private readonly started: (PendingSumHandle | null)[];
  private next = 0;

  constructor(private readonly buckets: readonly Tensor[][], private readonly worldSize: number) {
    for (const b of buckets) for (const p of b) this.pending.add(p);
    this.started = buckets.map(() => null);
  }

  /** p's gradient is complete: starts the buckets that can start. */
  ready(p: Tensor): void {
    if (!this.pending.delete(p)) return;
    while (this.next < this.buckets.length && this.buckets[this.next].every((q) => !this.pending.has(q))) this.start(this.next++);
  }

  /** Starts what is left, waits for every bucket and writes the averages into the .grad tensors. */
  finish(): void {
    this.pending.clear();
    while (this.next < this.buckets.length) this.start(this.next++);
    this.buckets.forEach((b, i) => {
      const grads = b.map((p) => p.grad!);
      native.distSumWait({ work: this.started[i]!, tensors: grads.map((g) => g.storage), ns: grads.map((g) => g.numel), scale: 1 / this.worldSize });
    });
  }

  private start(i: number): void {
    const grads = this.buckets[i].map(denseGrad);
    this.started[i] = native.distSumStart({ tensors: grads.map((g) => g.storage), ns: grads.map((g) => g.numel) });
  }
}
