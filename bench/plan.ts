// Where the compiled deploy form's time goes (npm run bench:plan): compileInference's steps
// timed one by one (CompiledInference.profile), the median of each over the repeats, summed
// per stage and kind of step (the patch copies and convs, the Global Perceptron's pool and
// FCs, fc3, the partition copies and gate pass, the FFN (both 1x1 convs in one step), the
// head), with each group's share of the plan and the products' GFLOP/s. The plain run()'s median is printed
// beside the steps' sum (the profile adds a clock read per step and, on CUDA, a sync).
//
//   npx tsx bench/plan.ts [--models small,cifar,T224] [--batch N] [--threads N] [--device cpu|cuda]
//       [--repeats N] [--warmup N] [--json]
//
// Defaults: small and cifar at batch 64, T224 at batch 8 (bench:model's rows).
import { noGrad } from '../lib/autograd';
import { randn } from '../lib/creation';
import { compileInference, type StepProfile } from '../lib/infer/compile';
import { buildModel } from '../lib/models/families';
import { Rng } from '../lib/rng';
import { scope } from '../lib/scope';
import { valued } from '../lib/cli/args';
import { intOption } from './lib/args';
import { log, startBench, syncOn } from './lib/context';
import { measure, median } from './lib/stats';
import { formatTable, sig3, type Column } from './lib/table';
import { modelSpec, repmlpnetModels } from './model';

const CMD = 'bench:plan';
const USAGE = `npm run ${CMD} -- [--models small,cifar,T224] [--batch N] [--threads N] [--device cpu|cuda] [--repeats N] [--warmup N] [--json]`;

/** The steps of one kind in one stage: their summed median time and multiply-adds. */
interface Group {
  group: string;
  steps: number;
  ms: number;
  flops: number;
}

/** 'stage 0 block 3 ffn' -> 'stage 0 ffn': the blocks of a stage summed. */
const groupOf = (label: string) => label.replace(/ block \d+/, '');

function groups(profiles: StepProfile[][]): Group[] {
  const out = new Map<string, Group>();
  profiles[0].forEach((step, k) => {
    const g = out.get(groupOf(step.label)) ?? { group: groupOf(step.label), steps: 0, ms: 0, flops: 0 };
    g.steps++;
    g.ms += median(profiles.map((p) => p[k].ms));
    g.flops += step.flops;
    out.set(g.group, g);
  });
  return [...out.values()];
}

const started = startBench(CMD, USAGE, valued('models'), {
  full: { warmup: 3, repeats: 10, minSampleMs: 0 },
  quick: { warmup: 1, repeats: 3, minSampleMs: 0 },
});
if (started) {
  const { v, ctx } = started;
  const names = repmlpnetModels(CMD, v);
  const batchOption = intOption(CMD, v, 'batch', { min: 1, max: 4096 });
  const report: { model: string; batch: number; runMs: number; groups: Group[] }[] = [];
  log(`${CMD}: ${names.join(', ')} on ${ctx.device}, ${ctx.threads} threads, ${ctx.timing.repeats} profiled runs each`);
  for (const name of names) {
    const spec = modelSpec(name)!;
    const batch = batchOption ?? (spec.small ? 64 : 8);
    scope(() => {
      const model = buildModel(spec.cfg, { seed: 0, device: ctx.device });
      const compiled = compileInference(model);
      try {
        const x = randn([batch, ...spec.input], new Rng(1), { device: ctx.device });
        const run = () => scope(() => syncOn(compiled.run(x)));
        const runMs = measure(run, () => {}, { ...ctx.timing, minSampleMs: 0 }).ms;
        const profiles = Array.from({ length: ctx.timing.repeats }, () => noGrad(() => compiled.profile(x)));
        report.push({ model: spec.name, batch, runMs, groups: groups(profiles) });
      } finally {
        compiled.dispose();
        model.dispose();
      }
    });
  }
  if (ctx.json) console.log(JSON.stringify({ threads: ctx.threads, device: ctx.device, report }, null, 2));
  else
    for (const r of report) {
      const total = r.groups.reduce((s, g) => s + g.ms, 0);
      console.log(`\n${r.model}, batch ${r.batch}: run() ${sig3(r.runMs)} ms (median), the steps' medians sum to ${sig3(total)} ms`);
      const cols: Column<Group>[] = [
        { header: 'steps', cell: (g) => g.group, align: 'left' },
        { header: 'count', cell: (g) => String(g.steps) },
        { header: 'ms', cell: (g) => g.ms.toFixed(3) },
        { header: 'share', cell: (g) => `${((100 * g.ms) / total).toFixed(1)}%` },
        { header: 'GFLOP/s', cell: (g) => (g.flops ? sig3(g.flops / g.ms / 1e6) : '') },
      ];
      console.log(formatTable(cols, r.groups));
    }
}
