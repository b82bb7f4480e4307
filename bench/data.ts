// Image loading throughput: decode + RandomResizedCrop(224) + flip + normalise, in images per
// second, of FolderLoader over a folder of JPEGs of ImageNet-like size (about 500 x 375,
// generated into a temporary folder) against torchvision's ImageFolder + DataLoader with the
// same transforms, worker count and batch size (bench/peers/data.py). Each side makes one
// untimed pass (workers start), then --repeats timed passes; the median pass is reported.
// The result is appended to bench/RESULTS.md unless --no-record.
//
//   npm run bench:data [-- --workers N] [--images N] [--batch N] [--repeats N] [--quick] [--json]
//       [--no-peer] [--python PATH] [--no-record]
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { flags, valued } from '../lib/cli/args';
import { scanImageFolder } from '../lib/data/images/folder';
import { defaultWorkers, FolderLoader } from '../lib/data/images/folder-loader';
import { intOption } from './lib/args';
import { describeMachine, log, runPeer, startBench } from './lib/context';
import { median } from './lib/stats';
import { formatTable, sig3 } from './lib/table';

const CMD = 'bench:data';
const USAGE = `npm run bench:data [-- --workers N] [--images N] [--batch N] [--repeats N] [--quick] [--json] [--no-peer] [--python PATH] [--no-record]
FolderLoader (sharp decode + RandomResizedCrop(224) + flip + normalise on worker threads) against torchvision's
ImageFolder + DataLoader with the same transforms and worker count, in images per second.`;

/** A photo-like JPEG: smooth colour fields, a few shapes and sensor noise, w x h. */
async function writeJpeg(file: string, w: number, h: number, seed: number): Promise<void> {
  const data = new Uint8Array(w * h * 3);
  let s = seed * 2654435761;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const f = [rnd() * 0.05, rnd() * 0.05, rnd() * 0.05], ph = [rnd() * 6, rnd() * 6, rnd() * 6];
  const cx = rnd() * w, cy = rnd() * h, r = 40 + rnd() * 120;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const inDisc = (x - cx) ** 2 + (y - cy) ** 2 < r * r;
      for (let c = 0; c < 3; c++) {
        const v = 128 + 80 * Math.sin(x * f[c] + ph[c]) * Math.cos(y * f[(c + 1) % 3]) + (inDisc ? 60 - 40 * c : 0) + (rnd() - 0.5) * 24;
        data[(y * w + x) * 3 + c] = Math.max(0, Math.min(255, v));
      }
    }
  await sharp(data, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 90 }).toFile(file);
}

async function makeFolder(n: number): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'repmlp-bench-data-'));
  const sizes: [number, number][] = [[500, 375], [375, 500], [500, 333], [480, 360], [500, 400]];
  for (let i = 0; i < n; i++) {
    const cls = path.join(dir, `class_${i % 8}`);
    fs.mkdirSync(cls, { recursive: true });
    const [w, h] = sizes[i % sizes.length];
    await writeJpeg(path.join(cls, `img_${i}.jpg`), w, h, i + 1);
  }
  return dir;
}

async function repmlpRates(dir: string, workers: number, batch: number, repeats: number, resampler: 'pil' | 'libvips'): Promise<number[]> {
  const loader = new FolderLoader(scanImageFolder(dir), { batchSize: batch, size: 224, train: true, workers, seed: 0, resampler });
  const rates: number[] = [];
  try {
    for (let p = 0; p <= repeats; p++) {
      const t0 = performance.now();
      let n = 0;
      for await (const b of loader.batches()) n += b.shape[0];
      if (p > 0) rates.push(n / ((performance.now() - t0) / 1000));
    }
  } finally {
    await loader.close();
  }
  return rates;
}

const HEADING = '## Image loading (`npm run bench:data`)';

function record(text: string): string {
  const file = path.join(__dirname, 'RESULTS.md');
  if (!fs.readFileSync(file, 'utf8').includes(HEADING)) fs.appendFileSync(file, `\n${HEADING}\n`);
  fs.appendFileSync(file, text);
  return path.relative(path.join(__dirname, '..'), file);
}

async function main(): Promise<void> {
  const started = startBench(CMD, USAGE, { ...valued('workers', 'images'), ...flags('no-record') }, {
    full: { warmup: 1, repeats: 3, minSampleMs: 0 }, quick: { warmup: 1, repeats: 1, minSampleMs: 0 },
  });
  if (!started) return;
  const { v, ctx } = started;
  const workers = intOption(CMD, v, 'workers', { min: 0, max: 256 }) ?? defaultWorkers();
  const images = intOption(CMD, v, 'images', { min: 8, max: 100000 }) ?? (ctx.quick ? 128 : 512);
  const batch = intOption(CMD, v, 'batch', { min: 1, max: 4096 }) ?? 64;
  const repeats = ctx.timing.repeats;
  const machine = describeMachine(ctx);
  log(`${CMD}: writing ${images} JPEGs of about 500x375 ...`);
  const dir = await makeFolder(images);
  try {
    log(`${CMD}: repmlp FolderLoader, ${workers} workers ...`);
    const ours = await repmlpRates(dir, workers, batch, repeats, 'pil');
    const vips = await repmlpRates(dir, workers, batch, repeats, 'libvips');
    log(`${CMD}: torchvision ImageFolder + DataLoader, ${workers} workers ...`);
    const peer = runPeer<{ peer: string; threads: number; compile: null; rates: number[] }>(ctx, 'data.py', { dir, workers, batch, size: 224, repeats });
    machine.loadEnd = os.loadavg()[0];
    const rows = [
      { name: "repmlp FolderLoader, resampler 'pil' (torchvision's bytes)", rates: ours },
      { name: "repmlp FolderLoader, resampler 'libvips'", rates: vips },
      { name: peer.ok ? peer.value.peer : `torchvision: ${peer.error}`, rates: peer.ok ? peer.value.rates : [] },
    ];
    const med = (r: number[]) => (r.length ? median(r) : null);
    const ratio = peer.ok ? median(ours) / median(peer.value.rates) : null;
    const vipsRatio = peer.ok ? median(vips) / median(peer.value.rates) : null;
    if (ctx.json) {
      console.log(JSON.stringify({ machine, workers, images, batch, repeats, repmlp: ours, repmlpLibvips: vips, peer: peer.ok ? peer.value : { error: peer.error }, ratio, vipsRatio }));
    } else {
      console.log(`machine: ${machine.cpu}, ${machine.cores} cores, load ${machine.loadStart.toFixed(2)} -> ${machine.loadEnd.toFixed(2)}; ${images} JPEGs, batch ${batch}, ${workers} workers, ${repeats} timed passes`);
      console.log(formatTable([
        { header: 'loader', cell: (r: (typeof rows)[number]) => r.name, align: 'left' },
        { header: 'img/s (median)', cell: (r) => sig3(med(r.rates)) },
        { header: 'passes', cell: (r) => r.rates.map((x) => x.toFixed(0)).join(' ') },
      ], rows));
      if (ratio !== null) console.log(`repmlp / torchvision: ${ratio.toFixed(2)}x ('pil'), ${vipsRatio!.toFixed(2)}x ('libvips')`);
    }
    if (!v['no-record']) {
      const date = new Date().toISOString().slice(0, 10);
      const line = `\n${date} \`npm run bench:data\`: ${images} JPEGs (~500x375) -> RandomResizedCrop(224) + flip + normalise, batch ${batch}, ${workers} workers; ` +
        `${machine.cpu}, ${machine.cores} cores, load ${machine.loadStart.toFixed(2)} -> ${machine.loadEnd.toFixed(2)}: repmlp FolderLoader ${sig3(median(ours))} img/s ` +
        `with resampler 'pil' (passes ${ours.map((x) => x.toFixed(0)).join(', ')}), ${sig3(median(vips))} img/s with 'libvips' (passes ${vips.map((x) => x.toFixed(0)).join(', ')}); ` +
        `${peer.ok ? `${peer.value.peer} ${sig3(median(peer.value.rates))} img/s (passes ${peer.value.rates.map((x) => x.toFixed(0)).join(', ')}); ratios ${ratio!.toFixed(2)}x and ${vipsRatio!.toFixed(2)}x` : `peer: ${peer.error}`}.\n`;
      log(`${CMD}: appended to ${record(line)}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error((e as Error).message);
  process.exit(1);
});
