// A data set's own per-channel mean and std (in units of pixel / 255), over its images as the
// evaluation transform gives them (shorter side resized, centre crop at `size`), every image
// weighing the same; the loader's workers do the decoding. Store the result with the model
// and pass it as `mean` / `std` to the loaders.
import type { FolderDataset } from './folder';
import { FolderLoader } from './folder-loader';
import type { ImageTransformOptions } from './transform';

export interface MeanStd {
  mean: number[];
  std: number[];
}

/** The evaluation transform's options that matter here, and the loader's. */
export interface MeanStdOptions extends Pick<ImageTransformOptions, 'size' | 'channels' | 'cropPct' | 'interpolation' | 'resampler'> {
  workers?: number;
  batchSize?: number;
  skipBadImages?: boolean;
}

export async function datasetMeanStd(data: FolderDataset, opts: MeanStdOptions = {}): Promise<MeanStd> {
  const c = opts.channels ?? 3;
  const loader = new FolderLoader(data, {
    batchSize: opts.batchSize ?? 64, size: opts.size ?? 224, channels: c, shuffle: false, workers: opts.workers,
    cropPct: opts.cropPct, interpolation: opts.interpolation, resampler: opts.resampler,
    mean: new Array(c).fill(0), std: new Array(c).fill(1), skipBadImages: opts.skipBadImages,
  });
  const sum = new Float64Array(c), sq = new Float64Array(c);
  let count = 0;
  try {
    for await (const b of loader.batches()) {
      const [B, , H, W] = b.shape, plane = H * W;
      for (let i = 0; i < B; i++)
        for (let ch = 0; ch < c; ch++) {
          const o = (i * c + ch) * plane;
          for (let k = 0; k < plane; k++) {
            const v = b.x[o + k];
            sum[ch] += v;
            sq[ch] += v * v;
          }
        }
      count += B * plane;
    }
  } finally {
    await loader.close();
  }
  const mean = Array.from(sum, (s) => s / count);
  return { mean, std: Array.from(sq, (s, ch) => Math.sqrt(Math.max(s / count - mean[ch] ** 2, 0))) };
}
