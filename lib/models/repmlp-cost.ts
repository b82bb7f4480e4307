// Parameters and multiply-adds of the layers the 2021 RepMLP models are made of, counted as the
// paper counts FLOPs (multiply-adds of the convs and FC layers; BN, activations, pooling and
// additions are not counted): what the built modules hold, without building them.

/** Parameters and multiply-adds (per image) of a layer. */
export interface Cost {
  params: number;
  macs: number;
}

export const ZERO: Cost = { params: 0, macs: 0 };

export function plus(...cs: Cost[]): Cost {
  return cs.reduce((s, c) => ({ params: s.params + c.params, macs: s.macs + c.macs }), ZERO);
}

/** A ConvBN (conv + BN scale and shift, or in the deploy form a conv with a bias) producing `positions` outputs per channel. */
export function convBnCost(inC: number, outC: number, k: number, positions: number, deploy: boolean, groups = 1): Cost {
  const perPosition = (inC / groups) * outC * k * k;
  return { params: perPosition + 2 * outC - (deploy ? outC : 0), macs: perPosition * positions };
}

/** What a RepMLP's size depends on (lib/models/repmlp-block.ts). */
export interface RepMLPShape {
  C: number;
  O: number;
  H: number;
  W: number;
  h: number;
  w: number;
  reparamConvK: readonly number[];
  fc1Fc2Reduction: number;
  groups: number;
  /** default: the map holds more than one partition */
  globalPerceptron?: boolean;
  /** the training form's conv fc3, or null for the FC */
  fc3Kernel?: number | null;
  deploy: boolean;
}

/** A RepMLP block: Global Perceptron, fc3 (+ fc3_bn), and the conv branches of the training form. */
export function repmlpCost(s: RepMLPShape): Cost {
  const hw = s.h * s.w, parts = (s.H / s.h) * (s.W / s.w), HW = s.H * s.W;
  let c = ZERO;
  if (s.globalPerceptron ?? parts > 1) {
    const F = s.C * parts, M = Math.floor(F / s.fc1Fc2Reduction);
    c = plus(c, { params: 2 * F * M + M + F + (s.deploy ? 0 : 2 * s.C), macs: 2 * F * M });
  }
  const fk = s.fc3Kernel ?? null;
  if (s.deploy || fk === null) {
    const fc3 = ((s.C * hw) / s.groups) * s.O * hw;
    c = plus(c, { params: fc3 + (s.deploy ? s.O * hw : 2 * s.O * hw), macs: parts * fc3 });
  } else {
    c = plus(c, convBnCost(s.C, s.O, fk, HW, false, s.groups));
  }
  if (!s.deploy) for (const k of s.reparamConvK) c = plus(c, convBnCost(s.C, s.O, k, HW, false, s.groups));
  return c;
}
