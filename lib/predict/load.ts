// A model ready to classify, from a weights file: a training checkpoint, or a state dict in
// either form (.safetensors or PyTorch .pth). The config comes from the file's model card (or
// a checkpoint's metadata) or, for weights written elsewhere, from a preset (fitted to the
// weights' channels and classes) or a config, of any model family; training-form weights are
// converted by Locality Injection, so the model that classifies is always the deploy form, in
// eval mode.
import { backend } from '../backend';
import type { ModelCard } from '../data/model-card';
import { describe, fail, RepmlpError } from '../errors';
import type { HostTensor } from '../io/safetensors';
import { allPresetNames, buildModel, checkModelInputSize, familyOf, familyOfPreset, type FamilyModel, type ModelConfig } from '../models/families';
import { fitPresetToWeights, weightsForm } from '../models/weights';
import type { Device } from '../tensor';
import { readModelWeights } from '../train/checkpoint';
import { cardFor } from './card';

export interface LoadOptions {
  /** for weights that record no config: a preset name of any family (fitted to the weights) or a config; it also replaces a recorded one */
  arch?: string | ModelConfig;
  /** 'auto' (default: CUDA when usable, else the CPU), 'cpu' or 'cuda' */
  device?: Device | 'auto';
}

/** A deploy-form model in eval mode and the card it classifies with. */
export interface LoadedModel {
  model: FamilyModel;
  card: ModelCard;
  /** the form the weights were in ('train': converted by Locality Injection) */
  form: 'train' | 'deploy';
}

/** The device a device option stands for. */
export function deviceOf(op: string, device: Device | 'auto' | undefined): Device {
  const d = device ?? 'auto';
  if (d !== 'auto' && d !== 'cpu' && d !== 'cuda') fail(op, 'device', "'auto', 'cpu' or 'cuda'", describe(d));
  return d === 'auto' ? backend().device : d;
}

/**
 * Builds the model of `config` from a state dict of the given form on `device`, in eval mode
 * and in the deploy form (Locality Injection on training-form weights); errors name `file`.
 */
export function deployModel(state: Map<string, HostTensor>, config: ModelConfig, form: 'train' | 'deploy', device: Device, file: string): FamilyModel {
  const model = buildModel({ ...config, deploy: form === 'deploy' }, { device });
  try {
    model.loadStateDict(state);
  } catch (e) {
    model.dispose();
    throw e instanceof RepmlpError ? new RepmlpError(`${file}: ${e.message}`) : e;
  }
  model.eval();
  if (form === 'train') model.localityInjection();
  return model;
}

function configOf(op: string, file: string, arch: LoadOptions['arch'], recorded: ModelConfig | null, state: Map<string, HostTensor>): ModelConfig {
  if (arch === undefined) {
    if (recorded) return recorded;
    return fail(op, 'arch', `a preset or a config for weights that record none`, `${file}, which records no config`);
  }
  if (typeof arch === 'string') {
    const family = familyOfPreset(arch);
    if (!family) fail(op, 'arch', `a preset (${allPresetNames.join(', ')}) or a config`, describe(arch));
    return fitPresetToWeights(family.preset(arch), state);
  }
  if (typeof arch !== 'object' || arch === null) fail(op, 'arch', 'a preset name or a config object', describe(arch));
  return familyOf(arch, `${op}: arch`).check(arch, `${op}: arch`);
}

/** Reads `file` and builds the model and its card (see the file's head); `op` names the caller in errors. */
export function loadModel(file: string, opts: LoadOptions = {}, op = 'Classifier.load'): LoadedModel {
  if (typeof file !== 'string') fail(op, 'weights', 'a file path', describe(file));
  const device = deviceOf(op, opts.device);
  const w = readModelWeights(file);
  const config = configOf(op, file, opts.arch, w.config, w.state);
  const card = cardFor(config, typeof opts.arch === 'string' ? opts.arch : w.arch, w.card);
  checkModelInputSize(config, [card.inputSize, card.inputSize], op);
  const form = weightsForm(w.state, config);
  return { model: deployModel(w.state, config, form, device, file), card, form };
}
