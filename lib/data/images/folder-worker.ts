// Worker thread of the FolderLoader: renders the samples it is sent (several at a time, so that
// libvips decodes one while this thread transforms another) and posts each back, transferred.
// On 'close' it takes no more work, finishes what it has and exits.
import { parentPort, workerData } from 'node:worker_threads';
import { renderSampleTask, type SampleTask, type WorkerInit } from './sample-task';

const init = workerData as WorkerInit;
let inflight = 0, closing = false;

function maybeExit(): void {
  if (closing && inflight === 0) parentPort!.close();
}

parentPort!.on('message', (m: { type: 'task'; id: number; task: SampleTask } | { type: 'close' }) => {
  if (m.type === 'close') {
    closing = true;
    return maybeExit();
  }
  if (closing) return;
  inflight++;
  void renderSampleTask(m.task, init).then((r) => {
    inflight--;
    if (r.x) parentPort!.postMessage({ id: m.id, x: r.x }, [r.x.buffer as ArrayBuffer]);
    else parentPort!.postMessage({ id: m.id, error: r.error });
    maybeExit();
  });
});
