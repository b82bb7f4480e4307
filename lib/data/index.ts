// Data sets and the batch loader.
export { readIdxImages, readIdxLabels, writeIdx, encodeIdx, parseIdx, IDX_MAX_DATA_BYTES, type IdxReadOptions } from './idx';
export {
  loadFashionMnist, fashionMnistSampleDir, DEBIAN_FASHION_MNIST_DIR, FASHION_MNIST_CLASSES,
  type FashionMnist, type FashionMnistSource, type ImageSplit,
} from './fashion-mnist';
export { readCifarBatch, loadCifar10, loadCifar100, CIFAR10_CLASSES, cifar100Classes, CIFAR_MAX_FILE_BYTES, type CifarSplit, type CifarVariant } from './cifar';
export {
  DataLoader, batchToTensors, epochOrder,
  type Batch, type DataLoaderOptions, type ImageDataset, type LoaderState,
} from './loader';
export { loadData, limitDataset, DATA_NAMES, type DataName, type LoadedData } from './datasets';
export { DistributedSampler, shardRange, type DistributedSamplerOptions, type Shard, type ShardOptions } from './sampler';
export { modelCardMetadata, readModelCard, cardTransform, type ModelCard } from './model-card';
export type { BatchSource } from './batch-source';
export * from './images/index';
