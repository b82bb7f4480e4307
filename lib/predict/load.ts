// A model ready to classify, from a weights file: a training checkpoint, or a state dict in
// either form (.safetensors or PyTorch .pth). The config comes from the file's model card (or
// a checkpoint's metadata) or, for weights written elsewhere, from a preset (fitted to the
// weights' channels and classes) or a config; training-form weights are converted by
// Locality Injection, so the model that classifies is always the deploy form, in eval mode.
import { backend } from '../backend';
import type { ModelCard } from '../data/model-card';
import { describe, fail, RepmlpError } from '../errors';
import type { HostTensor } from '../io/safetensors';
import { checkInputSize } from '../models/geometry';
import { preset, presetNames, type PresetName } from '../models/presets';
import { RepMLPNet, type RepMLPNetConfig } from '../models/repmlpnet';
import { fitPresetToWeights, weightsForm } from '../models/weights';
import type { Device } from '../tensor';
import { readModelWeights } from '../train/checkpoint';
import { cardFor } from './card';

export interface LoadOptions {
  /** for weights that record no config: a preset name (fitted to the weights) or a config; it also replaces a recorded one */
  arch?: PresetName | RepMLPNetConfig;
  /** 'auto' (default: CUDA when usable, else the CPU), 'cpu' or 'cuda' */
  device?: Device | 'auto';
}

/** A deploy-form model in eval mode and the card it classifies with. */
export interface LoadedModel {
  model: RepMLPNet;
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
export function deployModel(state: Map<string, HostTensor>, config: RepMLPNetConfig, form: 'train' | 'deploy', device: Device, file: string): RepMLPNet {
  const model = new RepMLPNet({ ...config, deploy: form === 'deploy' }, { device });
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

function configOf(op: string, file: string, arch: LoadOptions['arch'], recorded: RepMLPNetConfig | null, state: Map<string, HostTensor>): RepMLPNetConfig {
  if (arch === undefined) {
    if (recorded) return recorded;
    return fail(op, 'arch', `a preset or a config for weights that record none`, `${file}, which records no config`);
  }
  if (typeof arch === 'string') {
    if (!(presetNames as string[]).includes(arch)) fail(op, 'arch', `a preset (${presetNames.join(', ')}) or a config`, describe(arch));
    return fitPresetToWeights(preset(arch), state);
  }
  if (typeof arch !== 'object' || arch === null) fail(op, 'arch', 'a preset name or a config object', describe(arch));
  return arch;
}

/** Reads `file` and builds the model and its card (see the file's head); `op` names the caller in errors. */
export function loadModel(file: string, opts: LoadOptions = {}, op = 'Classifier.load'): LoadedModel {
  if (typeof file !== 'string') fail(op, 'weights', 'a file path', describe(file));
  const device = deviceOf(op, opts.device);
  const w = readModelWeights(file);
  const config = configOf(op, file, opts.arch, w.config, w.state);
  const card = cardFor(config, typeof opts.arch === 'string' ? opts.arch : w.arch, w.card);
  checkInputSize(config, [card.inputSize, card.inputSize], op);
  const form = weightsForm(w.state);
  return { model: deployModel(w.state, config, form, device, file), card, form };
}
