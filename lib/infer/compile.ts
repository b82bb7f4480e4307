// compileInference: a model's deploy form as a compiled forward. For a RepMLPNet, built once:
// every BN and linear step folded on the host (fold.ts), the weights packed on the model's
// device (weights.ts); per input shape a plan (plan.ts) with its activation arena, encoded
// into one program that native infer_run checks and runs in a single call (program.ts). The
// 2021 models have no fused plan yet: their compiled form is a deploy-form copy run eagerly
// (eager.ts).
import { checkTensor } from '../check';
import { describe, fail, shapeStr, warnOnStderr } from '../errors';
import type { CheckedConfig } from '../models/config';
import { isFamilyModel, type FamilyModel } from '../models/families';
import { withDeployForm } from '../models/fold';
import { partitionOrderWarning, patchPair } from '../models/geometry';
import { RepMLPNet } from '../models/repmlpnet';
import { keep } from '../scope';
import type { NativeStorage } from '../native';
import { materialize, Tensor, type Device } from '../tensor';
import { EagerDeploy } from './eager';
import { foldNet } from './fold';
import { buildPlan } from './plan';
import { encode, runProgram, stepFlops, type Program, type Step } from './program';
import { uploadNet, WeightSet, type NetRefs } from './weights';

const OP = 'compileInference';

export interface InferenceOptions {
  /** Plans kept, one per input shape, each with its activation buffers (default 4; the least recently used goes). */
  maxPlans?: number;
  /**
   * Where warnings go (default: a line on stderr): as the model, the compiled form warns once,
   * when it first runs with several partitions per map in the default order.
   */
  onWarning?: (message: string) => void;
}

/** One step of a compiled forward, timed by CompiledInference.profile. */
export interface StepProfile {
  /** where in the network and what: 'stage 0 block 1 ffn' */
  label: string;
  kind: Step['kind'];
  ms: number;
  /** the step's multiply-adds times two (0 for a step without a product: a copy, a pool, the gate pass) */
  flops: number;
}

/** A compiled forward of the deploy form: logits (N, numClasses) of x (N, C, H, W), no autograd. */
export interface CompiledInference {
  run(x: Tensor): Tensor;
  /** Runs x as run() does, timing each step of the plan (on CUDA, synchronizing after each). */
  profile(x: Tensor): StepProfile[];
  /** Frees the packed weights and every plan's buffers; run() then throws. */
  dispose(): void;
  readonly device: Device;
  /** the input shapes with a plan, least recently used first */
  readonly shapes: number[][];
}

interface ShapePlan {
  steps: Step[];
  program: Program;
  arena: Tensor;
  /** the program's storages: the weights, the arena, then the input's and the output's (set per run) */
  storages: NativeStorage[];
}

class Compiled implements CompiledInference {
  private weights: WeightSet | null;
  private readonly plans = new Map<string, ShapePlan>();
  private warned = false;

  constructor(
    private readonly config: CheckedConfig,
    private readonly net: NetRefs,
    weights: WeightSet,
    private readonly maxPlans: number,
    private readonly warn: (message: string) => void,
  ) {
    this.weights = weights;
  }

  get device(): Device {
    return this.live().device;
  }

  get shapes(): number[][] {
    return [...this.plans.keys()].map((k) => k.split(',').map(Number));
  }

  run(x: Tensor): Tensor {
    return this.exec(x, false).out;
  }

  profile(x: Tensor): StepProfile[] {
    const { out, steps, seconds } = this.exec(x, true);
    out.dispose();
    return steps.map((s, k) => ({
      label: s.label ?? s.kind, kind: s.kind, ms: (seconds?.[k] ?? 0) * 1e3, flops: stepFlops(s),
    }));
  }

  /** The logits of x, and with `timed` each step's wall time (seconds, by step). */
  private exec(x: Tensor, timed: boolean): { out: Tensor; steps: Step[]; seconds: Float64Array | null } {
    const ws = this.live();
    checkInput(this.config, x, ws.device);
    const dense = x.isContiguous ? x : materialize(x, false);
    try {
      const plan = this.plan(x.shape, ws);
      const seconds = timed ? new Float64Array(plan.steps.length) : null;
      const out = Tensor.empty([x.shape[0], this.config.numClasses], { device: ws.device });
      if (out.numel > 0) {
        const n = plan.storages.length;
        plan.storages[n - 2] = dense.storage;
        plan.storages[n - 1] = out.storage;
        try {
          runProgram(plan.program, plan.storages, dense.offset, seconds);
        } finally {
          // the plan keeps no reference to the caller's tensors
          plan.storages[n - 2] = plan.storages[n - 1] = plan.arena.storage;
        }
      }
      return { out, steps: plan.steps, seconds };
    } finally {
      if (dense !== x) dense.dispose();
    }
  }

  dispose(): void {
    for (const p of this.plans.values()) p.arena.dispose();
    this.plans.clear();
    this.weights?.dispose();
    this.weights = null;
  }

  private live(): WeightSet {
    if (!this.weights) fail(`${OP}.run`, 'this', 'a compiled model that was not disposed', 'a disposed one');
    return this.weights;
  }

  private plan(shape: readonly number[], ws: WeightSet): ShapePlan {
    const key = shape.join(',');
    const hit = this.plans.get(key);
    if (hit) {
      this.plans.delete(key);
      this.plans.set(key, hit);
      return hit;
    }
    if (!this.warned) {
      const message = partitionOrderWarning(this.config, [shape[2], shape[3]]);
      this.warned = message !== null;
      if (message !== null) this.warn(message);
    }
    const { steps, arenaNumel } = buildPlan(this.config, this.net, shape);
    const arena = keep(Tensor.empty([arenaNumel], { device: ws.device }));
    const storages = [...ws.tensors.map((t) => t.storage), arena.storage, arena.storage, arena.storage];
    const plan = { steps, program: encode(steps, ws.tensors.length), arena, storages };
    this.plans.set(key, plan);
    if (this.plans.size > this.maxPlans) {
      const [oldest, p] = this.plans.entries().next().value!;
      p.arena.dispose();
      this.plans.delete(oldest);
    }
    return plan;
  }
}

/** x must be (N, inChannels, H, W) on the device, H and W fitting the patch, the stages and every partition. */
function checkInput(cfg: CheckedConfig, x: Tensor, device: Device): void {
  const op = `${OP}.run`;
  checkTensor(op, 'x', x, { shape: [null, cfg.inChannels, null, null] });
  if (x.device !== device) fail(op, 'x', `a tensor on ${device} like the compiled model`, `one on ${x.device}`);
  const [, , H, W] = x.shape;
  const n = cfg.numBlocks.length, [ph, pw] = patchPair(cfg), sh = ph * 2 ** (n - 1), sw = pw * 2 ** (n - 1);
  if (H % sh || W % sw || H === 0 || W === 0) {
    const by = sh === sw ? `${sh}` : `${sh} and ${sw}`;
    fail(op, 'x', `a height and width divisible by ${by} (patch ${ph === pw ? ph : `${ph} x ${pw}`}, ${n} stages)`, `shape ${shapeStr(x.shape)}`);
  }
  for (let i = 0; i < n; i++) {
    const h = H / (ph * 2 ** i), w = W / (pw * 2 ** i);
    if (h % cfg.hs[i] || w % cfg.ws[i])
      fail(op, 'x', `maps that stage ${i} cuts into ${cfg.hs[i]} x ${cfg.ws[i]} partitions`, `shape ${shapeStr(x.shape)} (a ${h} x ${w} map)`);
  }
}

/**
 * Compiles `model` for inference: the deploy form (a training-form model is converted by
 * Locality Injection on a copy; the model is left as it is) in eval semantics, every BN
 * folded, on the model's device. The result holds its own weights: later changes to the
 * model do not reach it. A RepMLPResNet or RepMLPCifarNet runs as its deploy form, eagerly
 * (no plan; `maxPlans` and `onWarning` do not apply).
 */
export function compileInference(model: FamilyModel, options: InferenceOptions = {}): CompiledInference {
  if (!isFamilyModel(model)) fail(OP, 'model', 'a RepMLPNet, RepMLPResNet or RepMLPCifarNet', describe(model));
  if (typeof options !== 'object' || options === null) fail(OP, 'options', 'an object', describe(options));
  if (!(model instanceof RepMLPNet)) return new EagerDeploy(model);
  const maxPlans = options.maxPlans ?? 4;
  if (!Number.isInteger(maxPlans) || maxPlans < 1) fail(OP, 'options.maxPlans', 'an integer >= 1', describe(maxPlans));
  const warn = options.onWarning ?? warnOnStderr;
  if (typeof warn !== 'function') fail(OP, 'options.onWarning', 'a function', describe(warn));
  const device = model.head.weight.device;
  const folded = withDeployForm(model, foldNet);
  const ws = new WeightSet(device);
  try {
    return new Compiled({ ...model.config }, uploadNet(ws, folded), ws, maxPlans, warn);
  } catch (e) {
    ws.dispose();
    throw e;
  }
}
