// Classifier: a model and its card loaded once from a weights file, classifying image files
// or encoded images in memory, for a Node program that serves predictions:
//   const c = await Classifier.load('runs/x/deploy.safetensors');
//   const [p] = await c.classify([buffer], { top: 3 });   // p.top[0].label, .probability
//   c.dispose();
import type { ModelCard } from '../data/model-card';
import { RepmlpError } from '../errors';
import type { RepMLPNet } from '../models/repmlpnet';
import { loadModel, type LoadOptions } from './load';
import { predict, type Prediction, type PredictOptions } from './predict';
import type { PredictInput } from './render';

/** What classify() takes: predict's options but the card, which is the classifier's. */
export type ClassifyOptions = Omit<PredictOptions, 'card'>;

export class Classifier {
  private disposed = false;

  /** A classifier of a deploy-form model in eval mode (loadModel's) with its card. */
  constructor(private readonly model: RepMLPNet, readonly card: ModelCard, readonly form: 'train' | 'deploy' = 'deploy') {}

  /** Loads weights written by repmlp train (or, with `arch`, any RepMLPNet weights); see loadModel. */
  static async load(weights: string, opts: LoadOptions = {}): Promise<Classifier> {
    const { model, card, form } = loadModel(weights, opts);
    return new Classifier(model, card, form);
  }

  /** classes[i] names class i. */
  get classes(): readonly string[] {
    return this.card.classes;
  }

  /** Predictions for every input, in order (see predict). */
  async classify(inputs: readonly PredictInput[], opts: ClassifyOptions = {}): Promise<Prediction[]> {
    if (this.disposed) throw new RepmlpError('Classifier: expected a classifier that is not disposed for classify but received a disposed one');
    const out: Prediction[] = [];
    for await (const p of predict(this.model, inputs, { ...opts, card: this.card })) out.push(p);
    return out;
  }

  /** Frees the model's memory; the classifier cannot classify afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.model.dispose();
  }
}
