// Image folders: decoding (sharp), folder data sets, the torchvision / PIL transforms, and the
// FolderLoader (docs/IMAGES.md).
export { decodeImage, decodeBuffer, readHeader, readImageFile, luma, DEFAULT_MAX_PIXELS, type DecodeOptions, type ImageHeader, type Region } from './decode';
export type { DecodedImage, Image8 } from './image';
export { scanImageFolder, findSplits, readFileList, listClasses, walkImages, codePointCompare, IMAGE_EXTENSIONS, type FolderDataset, type Splits } from './folder';
export {
  transformSpec, transformImage, normalizeInto, flipHorizontal, IMAGENET_MEAN, IMAGENET_STD, SMALL_IMAGE,
  type ImageTransformOptions, type TransformSpec,
} from './transform';
export { resize, type Interpolation } from './resample';
export { randomResizedCrop, shorterSideSize, centerCropOffsets, type Crop } from './geometry';
export { randAugmentPolicy, randAugment, type RandAugmentSpec, type AugOpName } from './randaugment';
export { randomErase, DEFAULT_ERASING, type ErasingSpec, type ErasingMode } from './erasing';
export { sampleRng, batchRng } from './seeds';
export { FolderLoader, defaultWorkers, type FolderLoaderOptions } from './folder-loader';
export { datasetMeanStd, type MeanStd, type MeanStdOptions } from './stats';
