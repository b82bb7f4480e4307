// Training-step throughput of RepMLPNet on the CPU (or CUDA), against PyTorch running the
// same config and recipe (bench/peers/train_step.py) in the same session.
//   npx tsx bench/train-step.ts [--config small|small-nolocal] [--batch 64] [--steps 20]
//                               [--threads 2] [--device cpu] [--no-peer] [--json]
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import {
  AdamW, crossEntropy, preset, randn, RepMLPNet, Rng, scope, setNumThreads, splitWeightDecay, tensor, type Device,
} from '../lib/index';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}
const config = option('config', 'small');
const batch = Number(option('batch', '64'));
const steps = Number(option('steps', '20'));
const threads = Number(option('threads', '2'));
const device = option('device', 'cpu') as Device;
if (config !== 'small' && config !== 'small-nolocal') throw new Error(`train-step: expected small or small-nolocal for --config but received ${config}`);
setNumThreads(threads);

const cfg = { ...preset('small', { inChannels: 1, numClasses: 10 }), ...(config === 'small-nolocal' ? { reparamConvK: [] } : {}) };
const model = new RepMLPNet(cfg, { seed: 0, device });
const opt = new AdamW(splitWeightDecay(model.parameters(), 0.05), { lr: 1e-3 });
const rng = new Rng(1);
const x = randn([batch, 1, 32, 32], rng, { device });
const y = tensor(BigInt64Array.from({ length: batch }, () => BigInt(rng.int(10))), [batch], { device });
const times: number[] = [];
for (let i = 0; i < steps + 3; i++) {
  const t0 = performance.now();
  scope(() => {
    opt.zeroGrad();
    const loss = crossEntropy(model.forward(x), y, { labelSmoothing: 0.1 });
    loss.backward();
    opt.step();
    loss.item(); // synchronises, as a logged step would
  });
  if (i >= 3) times.push(performance.now() - t0);
}
times.sort((a, b) => a - b);
const ms = times[Math.floor(times.length / 2)];
const ours = { msPerStep: ms, imagesPerSecond: (batch / ms) * 1000 };
let peer: { msPerStep: number; imagesPerSecond: number; peer: string } | null = null;
if (!process.argv.includes('--no-peer')) {
  const script = path.join(__dirname, 'peers', 'train_step.py');
  const r = spawnSync('/usr/bin/python3', [script, '--config', config, '--batch', String(batch), '--steps', String(steps), '--threads', String(threads)], { encoding: 'utf8' });
  if (r.status === 0) peer = JSON.parse(r.stdout.trim().split('\n').pop()!);
  else console.error(`train-step: the PyTorch peer did not run (${(r.stderr || r.error?.message || '').trim().split('\n').pop()})`);
}
const result = { config, batch, threads, device, repmlp: ours, pytorch: peer, ratio: peer ? ours.imagesPerSecond / peer.imagesPerSecond : null };
if (process.argv.includes('--json')) console.log(JSON.stringify(result));
else {
  console.log(`${config}, batch ${batch}, ${threads} threads, ${device}: median of ${steps} steps`);
  console.log(`  repmlp   ${ms.toFixed(1)} ms/step  ${ours.imagesPerSecond.toFixed(0)} img/s`);
  if (peer) console.log(`  ${peer.peer.padEnd(8)} ${peer.msPerStep.toFixed(1)} ms/step  ${peer.imagesPerSecond.toFixed(0)} img/s   repmlp/pytorch ${result.ratio!.toFixed(2)}x`);
}
