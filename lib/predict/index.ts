// Predictions from a trained model: Classifier (load once, classify files or Buffers),
// predict() over a model and inputs, and the pieces they are made of.
export { Classifier, type ClassifyOptions } from './classifier';
export { predict, softmax, type ClassScore, type Prediction, type PredictOptions } from './predict';
export { loadModel, deployModel, type LoadOptions, type LoadedModel } from './load';
export { defaultCard, cardFor, withOverrides, cardSpec, type CardOverrides } from './card';
export { imageFiles } from './files';
export type { PredictInput } from './render';
