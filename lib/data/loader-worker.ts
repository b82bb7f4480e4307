// Worker thread of the DataLoader: holds a copy of the data set and renders planned batches.
import { parentPort } from 'node:worker_threads';
import { renderBatch, type BatchPlan, type RenderSpec } from './augment';

let images: Uint8Array | null = null;
let labels: Uint8Array | null = null;
let spec: RenderSpec | null = null;

type Msg = { type: 'init'; images: Uint8Array; labels: Uint8Array; spec: RenderSpec } | { type: 'render'; id: number; plan: BatchPlan; lo: number; hi: number };

parentPort!.on('message', (m: Msg) => {
  if (m.type === 'init') {
    ({ images, labels, spec } = m);
    return;
  }
  try {
    const r = renderBatch(images!, labels!, spec!, m.plan, m.lo, m.hi);
    const transfer: ArrayBuffer[] = [r.x.buffer as ArrayBuffer, r.labels.buffer as ArrayBuffer];
    if (r.targets) transfer.push(r.targets.buffer as ArrayBuffer);
    parentPort!.postMessage({ id: m.id, result: r }, transfer);
  } catch (e) {
    parentPort!.postMessage({ id: m.id, error: (e as Error).message });
  }
});
