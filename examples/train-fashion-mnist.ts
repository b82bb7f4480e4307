// Trains the `small` RepMLPNet on Fashion-MNIST with the library API, then converts it to
// the deploy form and checks that both forms classify the test set alike.
//   npx tsx examples/train-fashion-mnist.ts [epochs] [out-dir]
// Uses Debian's dataset-fashion-mnist when installed (apt-get install dataset-fashion-mnist),
// else the 2000 / 500-image sample shipped with repmlp.
import * as path from 'node:path';
import {
  DataLoader, evaluate, loadData, preset, readSafetensors, RepMLPNet, train, type TrainSummary,
} from '../lib/index';

async function main(): Promise<void> {
  const epochs = Number(process.argv[2] ?? 2);
  const out = process.argv[3] ?? path.join('runs', 'example-fashion-mnist');

  // The whole recipe: AdamW (lr 2e-3, weight decay 0.05 on weights), one warm-up epoch,
  // cosine decay, label smoothing 0.1, random crop and flip; 28x28 images padded to 32x32.
  const summary: TrainSummary = await train({
    arch: 'small',
    data: 'fashion-mnist',
    epochs,
    batchSize: 64,
    out,
    logEvery: 50,
  });
  console.log(`training form ${(100 * summary.testAccuracy).toFixed(2)}%, ` +
    `deploy form ${(100 * (summary.deployTestAccuracy ?? NaN)).toFixed(2)}%, ` +
    `${summary.imagesPerSecond.toFixed(0)} img/s`);

  // Load the deploy-form weights into a fresh deploy-form model and evaluate them again.
  const data = loadData('fashion-mnist');
  const model = new RepMLPNet(preset('small', { inChannels: 1, numClasses: 10, deploy: true }));
  model.loadStateDict(readSafetensors(path.join(out, 'deploy.safetensors')));
  const loader = new DataLoader(data.test, {
    batchSize: 256, shuffle: false, mean: data.mean, std: data.std, padTo: 32, numClasses: 10,
  });
  const ev = await evaluate(model, loader);
  console.log(`reloaded deploy form: ${ev.correct}/${ev.total} correct (${(100 * ev.accuracy).toFixed(2)}%)`);
  await loader.close();
  model.dispose();
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
