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
import { flags, parseCommandLine } from '../lib/cli/args';
import { preset, presetInputSize, presetNames, randn, randomizeBatchNorms, RepMLPNet, RepmlpError, Rng, scope, writeSafetensors, type PresetName } from '../lib/index';

const CMD = 'bench:onnx-export';

async function run(): Promise<void> {
  const cl = parseCommandLine(CMD, process.argv.slice(2), flags('no-run'), 2);
  const name = (cl.positional[0] ?? 'RepMLPNet-T224') as PresetName;
  if (!presetNames.includes(name)) throw new RepmlpError(`${CMD}: expected a preset (${presetNames.join(', ')}) for [preset] but received '${name}'`);
  const batchText = cl.positional[1] ?? '1';
  if (!/^\d+$/.test(batchText) || Number(batchText) < 1) throw new RepmlpError(`${CMD}: expected an integer >= 1 for [batch] but received '${batchText}'`);
  const batch = Number(batchText);
  const config = preset(name);
  const size = presetInputSize(name);
  const dir = os.tmpdir();
  const weights = path.join(dir, `${name}-deploy.safetensors`);
  const out = path.join(dir, `${name}.onnx`);

  const rng = new Rng(0);
  const model = new RepMLPNet({ ...config, deploy: false }, { rng });
  randomizeBatchNorms(model, rng);
  model.eval().localityInjection();
  writeSafetensors(weights, model.stateDict());

  const io = { out: (t: string) => void process.stdout.write(t), err: (t: string) => void process.stderr.write(t) };
  const t0 = performance.now();
  const code = await main(['export-onnx', '--arch', name, '--weights', weights, out], io);
  if (code !== 0) throw new Error(`export-onnx exited with ${code}`);
  console.log(`export-onnx wall time ${((performance.now() - t0) / 1e3).toFixed(2)} s, ${fs.statSync(out).size} bytes`);
  if (cl.values['no-run'] === true) return model.dispose();

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
