// The worker threads of a FolderLoader. Tasks go to the least busy worker, at most `perWorker`
// in flight each; the rest wait in a queue (whose length the loader bounds). Idle workers do
// not keep the process alive. close() lets every worker finish its samples and exit (and
// terminates one that has not after a grace period); a worker that dies fails its tasks.
import * as path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { RepmlpError } from '../../errors';
import { spawnWorker, terminateWorker } from '../worker';
import { renderSampleTask, type SampleResult, type SampleTask, type WorkerInit } from './sample-task';

interface Slot {
  worker: Worker;
  inflight: Map<number, Waiter>;
  exited: Promise<void>;
}

interface Waiter {
  task: SampleTask;
  resolve: (r: SampleResult) => void;
  reject: (e: Error) => void;
}

const OP = 'FolderLoader';
const CLOSE_GRACE_MS = 5000;

export class SamplePool {
  private slots: Slot[] = [];
  private queue: Waiter[] = [];
  private nextId = 0;
  private failure: Error | null = null;

  /** workers = 0 renders on the calling thread. */
  constructor(private readonly workers: number, private readonly perWorker: number, private readonly init: WorkerInit) {}

  /** Renders one sample (the result's error names the file when it cannot be decoded). */
  run(task: SampleTask): Promise<SampleResult> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.workers === 0) return renderSampleTask(task, this.init);
    return new Promise((resolve, reject) => {
      this.queue.push({ task, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    if (this.slots.length < this.workers) for (let i = this.slots.length; i < this.workers; i++) this.slots.push(this.spawn());
    while (this.queue.length > 0) {
      let best: Slot | null = null;
      for (const s of this.slots) if (s.inflight.size < this.perWorker && (!best || s.inflight.size < best.inflight.size)) best = s;
      if (!best) return;
      const waiter = this.queue.shift()!, id = this.nextId++;
      best.inflight.set(id, waiter);
      best.worker.ref();
      best.worker.postMessage({ type: 'task', id, task: waiter.task });
    }
  }

  private spawn(): Slot {
    const worker = spawnWorker(__dirname, 'folder-worker', path.extname(__filename), this.init);
    const slot: Slot = { worker, inflight: new Map(), exited: new Promise((r) => worker.once('exit', () => r())) };
    worker.on('message', (m: { id: number; x?: Float32Array; error?: string }) => {
      const w = slot.inflight.get(m.id);
      slot.inflight.delete(m.id);
      if (slot.inflight.size === 0) worker.unref();
      if (w) w.resolve(m.x ? { x: m.x } : { error: m.error! });
      this.dispatch();
    });
    worker.on('error', (e) => this.fail(slot, new RepmlpError(`${OP}: a worker thread failed: ${e.message}`)));
    worker.on('exit', (code) => {
      if (this.slots.includes(slot)) this.fail(slot, new RepmlpError(`${OP}: a worker thread exited (code ${code})`));
    });
    worker.unref();
    return slot;
  }

  // A dead worker: its tasks and the queue fail, and so does every later run() until close().
  private fail(slot: Slot, e: Error): void {
    this.failure ??= e;
    this.slots = this.slots.filter((s) => s !== slot);
    for (const w of slot.inflight.values()) w.reject(e);
    slot.inflight.clear();
    for (const w of this.queue.splice(0)) w.reject(e);
  }

  /** Stops the workers: queued and unfinished samples are rejected; resolves once every worker has exited. */
  async close(): Promise<void> {
    const slots = this.slots, closed = new RepmlpError(`${OP}: closed`);
    this.slots = [];
    this.failure = null;
    for (const w of this.queue.splice(0)) w.reject(closed);
    await Promise.all(slots.map(async (s) => {
      for (const w of s.inflight.values()) w.reject(closed);
      s.inflight.clear();
      s.worker.postMessage({ type: 'close' });
      s.worker.ref();
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), CLOSE_GRACE_MS)));
      if ((await Promise.race([s.exited, late])) === 'late') await terminateWorker(s.worker);
      clearTimeout(timer);
    }));
  }
}
