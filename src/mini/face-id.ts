// The miniature face-ID network: an iResNet at a small config trained with the ArcFace loss on the face crops
// of a synthetic dataset's training identities, then checked on identities it never saw (verification: the
// cosine threshold that best separates same/different pairs on half of the held-out identities, applied to
// pairs of the other half).
//
// Resumable (training-loop.ts): batch k is a function of (seed, k), the LR of k alone, and the checkpoint
// (outDir/checkpoints/, the shared training loop's) holds weights, AdamW state and losses.
// Outputs in outDir: config.json + model.safetensors (the backbone, IResNet key names: load with
// loadFaceIdWeights), loss.png, train.json (settings, losses summary, verification), checkpoints/.

import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as torch from '../torch/index.ts';
import type { RawTensor, Tensor } from '../torch/index.ts';
import * as nn from '../nn/index.ts';
import { readSafetensors, writeSafetensors } from '../torch/serialization/index.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { IResNet } from '../models/face/iresnet.ts';
import type { IResNetConfig } from '../models/face/iresnet.ts';
import type { SynthDataset } from './synth/dataset.ts';
import { createRng } from '../util/rng.ts';
import { positionRng } from '../util/seeds.ts';
import { runTrainingLoop } from '../nn/optim/training-loop.ts';
import { bestThreshold, cropFace, loadFaceCrops, loadFaceFrames, subsetCrops, thresholdAccuracy, verificationPairs } from './face-id-data.ts';
import type { FaceCrops } from './face-id-data.ts';
import { arcFaceLoss } from './face-id-loss.ts';
import type { ArcFaceOptions } from './face-id-loss.ts';

export const FACEID_CONFIG_FILE = 'config.json';
export const FACEID_WEIGHTS_FILE = 'model.safetensors';

/** The small iResNet of the shipped weights: 4 one-block stages, 32x32 input (the faces are 10-30 px in a 128 frame), 128-d embedding (~0.6 M parameters). */
export const FACEID_SMALL: IResNetConfig = {
  layers: [1, 1, 1, 1], num_features: 128, stem_width: 16, widths: [16, 32, 64, 128], dropout: 0, input_size: 32,
};

/** The backbone plus the ArcFace class centres (the centres are dropped from the released weights). */
class FaceIdTrainee extends nn.Module {
  backbone: IResNet;
  centres: Tensor;
  constructor(config: IResNetConfig, classes: number) {
    super();
    this.backbone = new IResNet(config);
    this.centres = nn.parameter(nn.init.normal([classes, config.num_features], 0.01));
  }
}

export interface TrainFaceIdOptions {
  outDir: string;
  data: SynthDataset;
  config?: Partial<IResNetConfig>;
  steps: number;
  batchSize?: number;
  lr?: number;
  weightDecay?: number;
  warmupSteps?: number;
  arcface?: ArcFaceOptions;
  /** Crop jitter while training (scale 1 ± j, shift ± j of the side); default 0.1. */
  jitter?: number;
  seed?: number;
  /** Same and different pairs each, per verification half; default 1000. */
  pairs?: number;
  checkpointEvery?: number;
  resume?: boolean;
  /** Stop after this step as if killed (after its checkpoint, if one is due); for tests. */
  stopAfter?: number;
  plot?: boolean;
  log?: (line: string) => void;
  /** A progress line every this many steps (with ms/step and ETA); default 25. */
  logEvery?: number;
}

export interface Verification {
  threshold: number;
  valAccuracy: number;
  testAccuracy: number;
  valIdentities: string[];
  testIdentities: string[];
  pairs: number;
  /** Mean cosine similarity of same / different test pairs. */
  meanSame: number;
  meanDifferent: number;
}

export interface TrainFaceIdResult {
  model: IResNet;
  losses: number[];
  step: number;
  finished: boolean;
  verification?: Verification;
  /** The same with crops from boxes jittered by 10%. */
  jittered?: Verification;
  /** Pairs within the clips of one motion source. */
  bySource: Partial<Record<'bvh' | 'dwpose', Verification>>;
  trainCrops: number;
  trainIdentities: number;
  seconds: number;
}

/** Embeddings (L2-normalised) of crops, in eval mode, batch by batch. */
export function embedCrops(model: IResNet, crops: FaceCrops, indices: readonly number[], batch = 128): Float32Array[] {
  const side = crops.side;
  const per = 3 * side * side;
  const out: Float32Array[] = [];
  torch.noGrad(() => {
    for (let s = 0; s < indices.length; s += batch) {
      const idx = indices.slice(s, s + batch);
      const x = new Float32Array(idx.length * per);
      idx.forEach((i, k) => x.set(crops.pixels.subarray(i * per, (i + 1) * per), k * per));
      torch.scope(() => {
        const e = model.forward(torch.tensor(x, { shape: [idx.length, 3, side, side] }));
        const n = e.div(torch.clampMin(e.norm(2, [1], true), 1e-12)).contiguous().data<'f32'>();
        const d = e.size(1);
        for (let k = 0; k < idx.length; k++) out.push(Float32Array.from(n.subarray(k * d, (k + 1) * d)));
      });
    }
  });
  return out;
}

const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + v * b[i]!, 0);

/** Verification on held-out identities: threshold from the val half, accuracy on the test half. */
export function verify(model: IResNet, crops: FaceCrops, identities: readonly string[], pairs: number, seed: number): Verification {
  const rng = createRng(seed ^ 0x5eed);
  const ids = rng.shuffle([...new Set(crops.identity.filter((id) => identities.includes(id)))].sort());
  if (ids.length < 4) throw new Error(`verify: need at least 4 held-out identities with faces (2 for val, 2 for test), found ${ids.length}`);
  const half = Math.floor(ids.length / 2);
  const [valIds, testIds] = [ids.slice(0, half).sort(), ids.slice(half).sort()];
  model.eval();
  const emb = embedCrops(model, crops, crops.identity.map((_, i) => i));
  const score = (list: readonly string[]) => {
    const p = verificationPairs(crops, list, pairs, rng);
    return { sims: p.map(({ a, b }) => dot(emb[a]!, emb[b]!)), same: p.map((q) => q.same) };
  };
  const val = score(valIds);
  const test = score(testIds);
  const { threshold, accuracy } = bestThreshold(val.sims, val.same);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  return {
    threshold, valAccuracy: accuracy, testAccuracy: thresholdAccuracy(test.sims, test.same, threshold),
    valIdentities: valIds, testIdentities: testIds, pairs: 2 * pairs,
    meanSame: mean(test.sims.filter((_, i) => test.same[i])), meanDifferent: mean(test.sims.filter((_, i) => !test.same[i])),
  };
}

/** Writes config.json + model.safetensors of the backbone. */
export async function saveFaceIdWeights(dir: string, model: IResNet, metadata: Record<string, string> = {}): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const tensors = new Map<string, RawTensor>();
  for (const [k, t] of model.stateDict()) tensors.set(k, t.detach().contiguous().raw());
  writeSafetensors(join(dir, FACEID_WEIGHTS_FILE), tensors, { format: 'pt', ...metadata });
  await writeFileAtomic(join(dir, FACEID_CONFIG_FILE), `${JSON.stringify({ _class_name: 'IResNet', ...model.config }, null, 2)}\n`);
}

/** Loads a folder written by saveFaceIdWeights: eval mode, frozen. */
export function loadFaceIdWeights(dir: string): IResNet {
  const path = join(dir, FACEID_CONFIG_FILE);
  if (!existsSync(path)) throw new Error(`${path}: not found; expected a face-ID weights folder (config.json + ${FACEID_WEIGHTS_FILE})`);
  const model = IResNet.fromConfig(JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>);
  const state = new Map<string, Tensor>();
  for (const [k, t] of readSafetensors(join(dir, FACEID_WEIGHTS_FILE))) state.set(k, torch.fromRaw(t));
  return model.loadWeights(state, join(dir, FACEID_WEIGHTS_FILE));
}

export async function trainFaceId(options: TrainFaceIdOptions): Promise<TrainFaceIdResult> {
  const started = performance.now();
  const log = options.log ?? ((line: string) => console.log(line));
  const config: IResNetConfig = { ...FACEID_SMALL, ...options.config };
  const hyper = {
    steps: options.steps, batchSize: options.batchSize ?? 64, lr: options.lr ?? 2e-3, weightDecay: options.weightDecay ?? 5e-4,
    warmupSteps: options.warmupSteps ?? 100, seed: options.seed ?? 0,
    arcface: { scale: options.arcface?.scale ?? 30, margin: options.arcface?.margin ?? 0.3 },
    jitter: options.jitter ?? 0.1,
  };
  if (!(Number.isInteger(hyper.steps) && hyper.steps > 0)) throw new Error(`trainFaceId: steps must be a positive integer, got ${hyper.steps}`);
  const { data } = options;
  const trainIds = data.split.trainIdentities;
  const trainFrames = await loadFaceFrames(data, data.split.clips.train);
  if (trainFrames.identity.length === 0) throw new Error(`${data.root}: the training clips have no face crops`);
  const classOf = new Map(trainIds.map((id, i) => [id, i]));
  const labels = trainFrames.identity.map((id) => classOf.get(id)!);
  log(`face-ID data: ${trainFrames.identity.length} faces of ${trainIds.length} training identities, ${config.input_size}x${config.input_size} crops`);

  const trainee = nn.withInit({ seed: hyper.seed }, () => new FaceIdTrainee(config, trainIds.length));
  const params = trainee.parameters().filter((p) => p.requiresGrad);
  const side = config.input_size;
  const per = 3 * side * side;
  log(`face-ID network: ${trainee.backbone.numParameters()} parameters, config ${JSON.stringify(config)}`);
  const settings = { config, hyper, classes: trainIds.length, crops: trainFrames.identity.length };
  const loop = await runTrainingLoop({
    name: 'faceid',
    outDir: options.outDir,
    weights: trainee,
    params,
    optimizer: new nn.AdamW(params, { lr: hyper.lr, weightDecay: hyper.weightDecay }),
    lr: nn.cosineWithWarmup(hyper.lr, hyper.steps, { warmupSteps: hyper.warmupSteps, minLr: hyper.lr * 0.02 }),
    steps: hyper.steps,
    settings,
    checkpointEvery: options.checkpointEvery,
    logEvery: options.logEvery,
    resume: options.resume,
    stopAfter: options.stopAfter,
    plot: options.plot,
    log,
    lossAt: (step) => {
      // A batch: faces drawn uniformly, each cropped from a jittered square (a face box is never exact in
      // use: CSIM crops generated frames with the driving pose's box) and mirrored with probability 1/2.
      const rng = positionRng(hyper.seed, step);
      const x = new Float32Array(hyper.batchSize * per);
      const y: number[] = [];
      for (let k = 0; k < hyper.batchSize; k++) {
        const i = rng.int(labels.length);
        y.push(labels[i]!);
        const mirror = rng.next() < 0.5;
        cropFace(trainFrames.images[i]!, trainFrames.boxes[i]!, side, x, k * per, { rng, amount: hyper.jitter }, mirror);
      }
      return torch.scope(() => {
        const emb = trainee.backbone.forward(torch.tensor(x, { shape: [hyper.batchSize, 3, side, side] }));
        const l = arcFaceLoss(emb, trainee.centres, y, hyper.arcface);
        l.backward();
        return l.item();
      });
    },
  });
  const { losses, step } = loop;

  const model = trainee.backbone;
  model.eval();
  let verification: Verification | undefined;
  let jittered: Verification | undefined;
  const bySource: Partial<Record<'bvh' | 'dwpose', Verification>> = {};
  if (loop.finished) {
    const heldClips = [...data.split.clips.heldout_identity, ...data.split.clips.heldout_both];
    const pairs = options.pairs ?? 1000;
    const report = (what: string, v: Verification) => log(`verification on held-out identities${what}: threshold ${v.threshold.toFixed(3)} ` +
      `(val accuracy ${(100 * v.valAccuracy).toFixed(1)}%), test accuracy ${(100 * v.testAccuracy).toFixed(1)}% on ${v.pairs} pairs; ` +
      `mean cosine same ${v.meanSame.toFixed(3)}, different ${v.meanDifferent.toFixed(3)}`);
    const crops = await loadFaceCrops(data, heldClips, side);
    verification = verify(model, crops, data.split.heldOutIdentities, pairs, hyper.seed);
    report('', verification);
    // Per motion source: small full-body BVH faces and large half-body DWPose faces, each pair within one.
    const sourceOf = new Map(data.clips.map((c) => [c.clip, c.source]));
    for (const source of ['bvh', 'dwpose'] as const) {
      const sub = subsetCrops(crops, (i) => sourceOf.get(crops.clip[i]!) === source);
      if (new Set(sub.identity).size < 4) continue;
      bySource[source] = verify(model, sub, data.split.heldOutIdentities, pairs, hyper.seed);
      report(` (${source} clips only)`, bySource[source]!);
    }
    // The same check with boxes off by up to 10% (size and position), as boxes of generated frames will be.
    const jitter = { rng: createRng(hyper.seed + 1), amount: 0.1 };
    jittered = verify(model, await loadFaceCrops(data, heldClips, side, jitter), data.split.heldOutIdentities, pairs, hyper.seed);
    report(' (boxes jittered by 10%)', jittered);
    await saveFaceIdWeights(options.outDir, model, { step: String(step), test_accuracy: String(verification.testAccuracy) });
    const tail = losses.slice(-50);
    await writeFileAtomic(join(options.outDir, 'train.json'), `${JSON.stringify({
      steps: step, ...settings, parameters: model.numParameters(), train_identities: trainIds.length,
      first_loss: losses[0], final_loss_mean50: tail.reduce((a, b) => a + b, 0) / tail.length, verification, verification_jittered_boxes: jittered, verification_by_source: bySource,
    }, null, 2)}\n`);
  }
  return { model, losses, step, finished: loop.finished, verification, jittered, bySource, trainCrops: trainFrames.identity.length, trainIdentities: trainIds.length, seconds: (performance.now() - started) / 1000 };
}
