// The shapes the optimizer tests share: parameters and gradients from the goldens that
// test/fixtures/gen_<optimizer>.py writes with torch.optim, steps checked against them, and
// the check that optimizer state made inside scopes outlives them without leaking.
import * as assert from 'uvu/assert';
import { scope, type Tensor } from '../../lib/index';
import { assertClose, assertNoLeak, fixture, fromHost, liveStorages } from '../helpers';

/** What the helpers need of an optimizer. */
export interface Stepper {
  step(): void;
  zeroGrad(): void;
  dispose(): void;
  stateDict(): { state: object };
}

/**
 * Helpers over the fixture group `group` of the optimizer `label` (AdamW, SGD). A case `name`
 * holds `${name}.p<i>.init`, `.grad<t>` and `.step<t>` (the parameter after step t + 1).
 */
export function optimizerGoldens(label: string, group: string) {
  const golden = fixture(group);

  /** The case's parameters at their initial values, each requiring a gradient. */
  function params(name: string, count: number): Tensor[] {
    return Array.from({ length: count }, (_, i) => fromHost(golden(`${name}.p${i}.init`), true));
  }

  /** Gives every parameter the gradient of step t, freeing the one it had. */
  function setGrads(name: string, ps: Tensor[], t: number): void {
    ps.forEach((p, i) => {
      p.grad?.dispose();
      p.grad = fromHost(golden(`${name}.p${i}.grad${t}`));
    });
  }

  /** Asserts every parameter equals torch's after step t + 1 (rtol 1e-5). */
  function expectStep(name: string, ps: Tensor[], t: number): void {
    ps.forEach((p, i) => assertClose(`${label} ${name} p${i} after step ${t + 1} vs torch`, p, golden(`${name}.p${i}.step${t}`), { rtol: 1e-5 }));
  }

  /** Takes the case's three steps, each checked against torch; then frees opt and ps. */
  function stepsMatchTorch(name: string, ps: Tensor[], opt: Stepper): void {
    for (let t = 0; t < 3; t++) {
      setGrads(name, ps, t);
      opt.step();
      expectStep(name, ps, t);
    }
    opt.dispose();
    ps.forEach((p) => p.dispose());
  }

  /**
   * Three steps, each inside its own scope: the live storage count stays where the first
   * left it, every parameter keeps its state, and freeing opt and ps frees everything.
   */
  function stateOutlivesScopes(name: string, count: number, make: (ps: Tensor[]) => Stepper): void {
    assertNoLeak(label, () => {
      const ps = params(name, count);
      const opt = make(ps);
      const counts: number[] = [];
      for (let t = 0; t < 3; t++) {
        scope(() => {
          opt.zeroGrad();
          setGrads(name, ps, t);
          opt.step();
        });
        counts.push(liveStorages().cpuBuffers + liveStorages().cudaBuffers);
      }
      assert.equal(counts, [counts[0], counts[0], counts[0]]);
      assert.equal(Object.keys(opt.stateDict().state), ps.map((_, i) => String(i)));
      opt.dispose();
      ps.forEach((p) => p.dispose());
    });
  }

  return { golden, params, setGrads, expectStep, stepsMatchTorch, stateOutlivesScopes };
}
