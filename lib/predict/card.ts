// The model card a prediction works from: the one a weights file recorded, or for weights
// written elsewhere the defaults of an image folder run (class names '0' ... 'K-1', ImageNet's
// mean and std, crop_pct 0.875, bilinear); an input size or crop_pct given for one run,
// checked against the model.
import { SMALL_IMAGE, transformSpec, type TransformSpec } from '../data/images/transform';
import { cardTransform, type ModelCard } from '../data/model-card';
import { fail } from '../errors';
import { checkInputSize, configInputSize } from '../models/geometry';
import type { RepMLPNetConfig } from '../models/repmlpnet';


/** The card of weights that record none: an image folder run's defaults at the config's input size. */
export function defaultCard(config: RepMLPNetConfig, arch = 'custom'): ModelCard {
  const channels = config.inChannels;
  if (channels !== 1 && channels !== 3) fail('predict', 'config.inChannels', '1 or 3 (grey or RGB images)', String(channels));
  const inputSize = configInputSize(config)[0];
  const { mean, std } = transformSpec({ channels, size: 1 });
  return {
    arch, config, classes: Array.from({ length: config.numClasses }, (_, i) => String(i)), inputSize, imageSize: inputSize,
    mean, std, cropPct: inputSize <= SMALL_IMAGE ? 1 : 0.875, interpolation: 'bilinear', resampler: 'pil',
  };
}

/**
 * The card for `config`: the file's (with this config) when it has one for as many classes
 * and channels, else the defaults.
 */
export function cardFor(config: RepMLPNetConfig, arch: string | null, card: ModelCard | null): ModelCard {
  if (card && card.classes.length === config.numClasses && card.config.inChannels === config.inChannels) return { ...card, config };
  return defaultCard(config, arch ?? 'custom');
}

export interface CardOverrides {
  /** the model's input height and width for this run (images are rendered at it) */
  inputSize?: number;
  /** the evaluation centre-crop fraction for this run */
  cropPct?: number;
}

/** The card with an input size or crop_pct of this run, each checked (`op` names the caller in errors). */
export function withOverrides(card: ModelCard, o: CardOverrides, op: string): ModelCard {
  const out = { ...card };
  if (o.inputSize !== undefined && o.inputSize !== card.inputSize) {
    checkInputSize(card.config, [o.inputSize, o.inputSize], op);
    Object.assign(out, { inputSize: o.inputSize, imageSize: o.inputSize, cropPct: o.inputSize <= SMALL_IMAGE ? 1 : card.cropPct === 1 ? 0.875 : card.cropPct });
  }
  if (o.cropPct !== undefined) {
    if (out.imageSize <= SMALL_IMAGE && o.cropPct !== 1)
      fail(op, 'cropPct', `none (or 1) for images of ${SMALL_IMAGE} px or less, which are fitted whole`, `${o.cropPct} with input ${out.imageSize}`);
    out.cropPct = o.cropPct;
  }
  return out;
}

/** The evaluation transform of a card, checked. */
export function cardSpec(card: ModelCard): TransformSpec {
  return transformSpec(cardTransform(card));
}
