// The compiled form of the models without a fused plan (the 2021 paper's RepMLPResNet and
// RepMLPCifarNet): a deploy-form copy of the model, run eagerly in eval mode without autograd.
// It keeps compileInference's contract: it holds its own weights, so later changes to the
// model do not reach it, and run() returns the logits alone (no intermediate tensor outlives it).
import { noGrad } from '../autograd';
import { fail } from '../errors';
import { buildModel, type FamilyModel } from '../models/families';
import { scope } from '../scope';
import type { Device, Tensor } from '../tensor';
import type { CompiledInference } from './compile';

const OP = 'compileInference';

export class EagerDeploy implements CompiledInference {
  private model: FamilyModel | null;
  readonly device: Device;

  constructor(model: FamilyModel) {
    this.device = model.parameters()[0]?.device ?? 'cpu';
    const copy = buildModel({ ...model.config }, { device: this.device, uninitialized: true });
    try {
      copy.loadStateDict(model.stateDict());
      if (!copy.deploy) copy.localityInjection();
      copy.eval();
    } catch (e) {
      copy.dispose();
      throw e;
    }
    this.model = copy;
  }

  /** no plans: every input shape runs the same modules */
  get shapes(): number[][] {
    return [];
  }

  run(x: Tensor): Tensor {
    const m = this.model;
    if (!m) fail(`${OP}.run`, 'this', 'a compiled model that was not disposed', 'a disposed one');
    return scope(() => noGrad(() => m.forward(x)));
  }

  /** There are no steps to time: a profile is refused. */
  profile(): never {
    fail(`${OP}.profile`, 'this', 'a compiled RepMLPNet (a plan of steps)', `the ${this.model?.constructor.name ?? 'disposed'} model, which runs eagerly`);
  }

  dispose(): void {
    this.model?.dispose();
    this.model = null;
  }
}
