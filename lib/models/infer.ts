// Which RepMLPNet a state dict is, from its keys and shapes alone: the config they imply
// (stages and units from the keys; channels, partition area h*w, share-sets, Global
// Perceptron reduction, conv kernels and classes from the shapes) and the preset whose state
// dict has exactly those keys and shapes. h and w are not in the shapes apart (fc3 is
// (S*h*w, h*w, 1, 1)): a square h*w is taken as h = w, another area as its most nearly
// square factors, with a note; the deploy form keeps no conv kernels.
import type { RepMLPNetConfig } from './repmlpnet';
import { preset, presetNames, type PresetName } from './presets';
import { stateDictShapes } from './shapes';

export type Shapes = ReadonlyMap<string, readonly number[]>;

export interface InferredArch {
  /** the config the keys imply, or null when they are not a RepMLPNet's (`problem` says why) */
  config: RepMLPNetConfig | null;
  form: 'train' | 'deploy';
  /** presets (with the state dict's channels and classes) whose keys and shapes are exactly these */
  presets: PresetName[];
  /** what the shapes leave open (h and w apart) */
  notes: string[];
  problem: string | null;
}

/** The factors h x w of an area, h = w when square, else the most nearly square (h >= w). */
function partitionSides(hw: number): [number, number] {
  let w = Math.floor(Math.sqrt(hw));
  while (hw % w) w--;
  return [hw / w, w];
}

/** The Global Perceptron's reduction r with floor(C / r) = c (C / c when that is whole). */
function reduction(C: number, c: number): number {
  const r = Math.floor(C / c);
  return Math.floor(C / r) === c ? r : NaN;
}

function shapeOf(shapes: Shapes, key: string, ndim: number): readonly number[] {
  const s = shapes.get(key);
  if (!s || s.length !== ndim) throw new Error(`no ${ndim}-d '${key}'`);
  return s;
}

/** The units per stage, from the keys stages.<i>.<j>.* */
function unitsPerStage(shapes: Shapes): number[] {
  const blocks: number[] = [];
  for (const k of shapes.keys()) {
    const m = /^stages\.(\d+)\.(\d+)\./.exec(k);
    if (m) blocks[Number(m[1])] = Math.max(blocks[Number(m[1])] ?? 0, Number(m[2]) + 1);
  }
  if (blocks.length === 0 || blocks.some((b) => b === undefined)) throw new Error('no stages.<i>.<j> keys for every stage');
  return blocks;
}

/** The config the keys imply, with notes on what they leave open; throws when they are not a RepMLPNet's. */
function impliedConfig(shapes: Shapes, form: 'train' | 'deploy', notes: string[]): RepMLPNetConfig {
  const [C0, inChannels, ph, pw] = shapeOf(shapes, 'conv_embedding.conv.weight', 4);
  const numClasses = shapeOf(shapes, 'head.weight', 2)[0];
  const numBlocks = unitsPerStage(shapes);
  const channels: number[] = [], hs: number[] = [], ws: number[] = [], sharesetsNums: number[] = [];
  let reduce = NaN;
  numBlocks.forEach((_, i) => {
    const at = `stages.${i}.0.repmlp_block`;
    const [rows, hw] = shapeOf(shapes, `${at}.fc3.weight`, 4);
    const [h, w] = partitionSides(hw);
    if (h !== w) notes.push(`stage ${i + 1}: h*w = ${hw} is not square; taken as ${h} x ${w}`);
    channels.push(shapeOf(shapes, `stages.${i}.0.prebn1.weight`, 1)[0]);
    hs.push(h);
    ws.push(w);
    sharesetsNums.push(rows / hw);
    if (i === 0) reduce = reduction(channels[0], shapeOf(shapes, `${at}.gp.fc1.weight`, 4)[0]);
  });
  if (channels[0] !== C0) throw new Error(`conv_embedding has ${C0} channels but stage 1 has ${channels[0]}`);
  const reparamConvK = [...shapes.keys()].flatMap((k) => /^stages\.0\.0\.repmlp_block\.repconv(\d+)\.conv\.weight$/.exec(k)?.[1] ?? []).map(Number);
  if (form === 'deploy') notes.push('deploy form: the conv kernels merged into fc3 are not in the keys (reparamConvK [])');
  const patchSize: RepMLPNetConfig['patchSize'] = ph === pw ? ph : [ph, pw];
  return { inChannels, numClasses, patchSize, numBlocks, channels, hs, ws, sharesetsNums, reparamConvK, globalPerceptronReduce: reduce, deploy: form === 'deploy' };
}

/** The first difference between a config's state dict and the shapes, or null when they are the same. */
export function shapesDiffer(cfg: RepMLPNetConfig, shapes: Shapes): string | null {
  const expected = stateDictShapes(cfg);
  for (const [k, { shape }] of expected) {
    const s = shapes.get(k);
    if (!s) return `no '${k}'`;
    if (s.join() !== shape.join()) return `'${k}' is [${s}], not [${shape}]`;
  }
  for (const k of shapes.keys()) if (!expected.has(k)) return `'${k}' is not a key of that config`;
  return null;
}

/** 'train' when a state dict's keys have Local Perceptron branches (fc3_bn, repconv*), else 'deploy'. */
export function stateDictForm(keys: Iterable<string>): 'train' | 'deploy' {
  for (const k of keys) if (/(^|\.)(fc3_bn|repconv\d+)\./.test(k)) return 'train';
  return 'deploy';
}

/** Which RepMLPNet the shapes (a state dict's, keyed as the reference code keys them) are. */
export function inferArchitecture(shapes: Shapes): InferredArch {
  const form = stateDictForm(shapes.keys());
  const notes: string[] = [];
  let config: RepMLPNetConfig;
  try {
    config = impliedConfig(shapes, form, notes);
  } catch (e) {
    return { config: null, form, presets: [], notes, problem: `not a RepMLPNet state dict: ${(e as Error).message}` };
  }
  const differs = Number.isNaN(config.globalPerceptronReduce) ? 'gp.fc1 has no whole reduction of the channels' : shapesDiffer(config, shapes);
  if (differs !== null) return { config: null, form, presets: [], notes, problem: `not a RepMLPNet state dict: ${differs}` };
  const fit = { inChannels: config.inChannels, numClasses: config.numClasses, deploy: form === 'deploy' };
  const presets = presetNames.filter((name) => shapesDiffer(preset(name, fit), shapes) === null);
  return { config, form, presets, notes, problem: null };
}
