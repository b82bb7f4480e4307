// ONNX export of a preset with random deploy-form weights (random BN statistics folded in):
// the export time and file size through `repmlp export-onnx`, then onnxruntime-node (CPU)
// against repmlp's own forward on one random batch.
//
//   npx tsx bench/onnx-export.ts [preset = RepMLPNet-T224] [batch = 1] [--no-run]
//
// Writes <tmp>/<preset>-deploy.safetensors and <tmp>/<preset>.onnx (tmp: $TMPDIR or /tmp).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { main } from '../lib/cli';
import { preset, presetNames, randn, RepMLPNet, Rng, scope, writeSafetensors, type PresetName } from '../lib/index';

async function run(): Promise<void> {
  const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const name = (args[0] ?? 'RepMLPNet-T224') as PresetName;
  if (!presetNames.includes(name)) throw new Error(`onnx-export: expected a preset (${presetNames.join(', ')}) but received '${name}'`);
  const batch = Number(args[1] ?? 1);
  const config = preset(name);
  const size = config.hs[0] * config.patchSize;
  const dir = os.tmpdir();
  const weights = path.join(dir, `${name}-deploy.safetensors`);
  const out = path.join(dir, `${name}.onnx`);

  const rng = new Rng(0);
  const model = new RepMLPNet({ ...config, deploy: false }, { rng });
  const sd = model.stateDict();
  for (const [k, v] of sd)
    if (/(bn|prebn1|prebn2|head_norm)\.(weight|bias|running_mean|running_var)$/.test(k)) {
      const d = v.data as Float32Array;
      for (let i = 0; i < d.length; i++) d[i] = k.endsWith('running_var') ? 0.5 + 1.5 * rng.uniform() : k.endsWith('weight') ? 0.5 + rng.uniform() : 0.2 * rng.normal();
    }
  model.loadStateDict(sd);
  model.eval().localityInjection();
  writeSafetensors(weights, model.stateDict());

  const io = { out: (t: string) => void process.stdout.write(t), err: (t: string) => void process.stderr.write(t) };
  const t0 = performance.now();
  const code = await main(['export-onnx', '--arch', name, '--weights', weights, out], io);
  if (code !== 0) throw new Error(`export-onnx exited with ${code}`);
  console.log(`export-onnx wall time ${((performance.now() - t0) / 1e3).toFixed(2)} s, ${fs.statSync(out).size} bytes`);
  if (process.argv.includes('--no-run')) return model.dispose();

  const dims = [batch, config.inChannels, size, size];
  const x = randn(dims, new Rng(1));
  const t1 = performance.now();
  const expected = scope(() => model.forward(x).toFloat32Array());
  const t2 = performance.now();
  const session = await ort.InferenceSession.create(out);
  const t3 = performance.now();
  const got = (await session.run({ input: new ort.Tensor('float32', x.toFloat32Array(), dims) })).logits.data as Float32Array;
  const t4 = performance.now();
  let maxAbs = 0, scale = 0;
  for (let i = 0; i < expected.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(got[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  console.log(`batch ${batch}: repmlp forward ${(t2 - t1).toFixed(0)} ms, onnxruntime session ${(t3 - t2).toFixed(0)} ms + run ${(t4 - t3).toFixed(0)} ms`);
  console.log(`logits: max abs diff ${maxAbs.toExponential(2)}, relative ${(maxAbs / scale).toExponential(2)}`);
  x.dispose();
  model.dispose();
}

run().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
