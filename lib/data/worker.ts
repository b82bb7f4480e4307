// Starting a worker thread from a module next to the caller: the compiled .js file, or, from the
// TypeScript sources (tests, tsx), the .ts file loaded through tsx like the main thread.
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';

/** A worker running `<dir>/<base>.js` (or `.ts` when `ext` is '.ts'), given workerData `data`. */
export function spawnWorker(dir: string, base: string, ext: string, data?: unknown): Worker {
  const file = path.join(dir, `${base}${ext}`);
  return ext === '.ts'
    ? new Worker(`require(${JSON.stringify(require.resolve('tsx/cjs'))}); require(${JSON.stringify(file)});`, { eval: true, workerData: data })
    : new Worker(file, { workerData: data });
}

/**
 * Waits for w.terminate(). A worker stopped while it is still starting up no longer holds the
 * event loop: the process is kept alive until terminate() settles, or it would exit in the
 * middle of the caller's close().
 */
export async function terminateWorker(w: Worker): Promise<void> {
  const alive = setInterval(() => undefined, 1000);
  try {
    await w.terminate();
  } finally {
    clearInterval(alive);
  }
}
