// Dis of the rule-based baselines under the MisAlign perturbation (default ranges: ±30°, scale 0.5-2
// log-uniform, shift ±0.25), on held-out sequences of both real sources. Prints the table it measures.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { poolDistances, poseDistance } from '../../src/eval/pose-distance.ts';
import type { PoseDistance } from '../../src/eval/pose-distance.ts';
import { polyfitAlign } from '../../src/align/polyfit.ts';
import { alignSequenceSvd } from '../../src/align/similarity-fit.ts';
import { loadMotionSequences, makeAlignmentSamples, splitBySequence } from '../../src/pose/motion-data.ts';
import type { AlignmentSample, NamedSequence, SampleOptions } from '../../src/pose/motion-data.ts';
import { createRng } from '../../src/util/rng.ts';
import { MOTION_DIR } from './helpers.ts';

let val: NamedSequence[] = [];
before(async () => {
  const all = await loadMotionSequences({ bvhDir: join(MOTION_DIR, 'bvh'), dwposeDir: join(MOTION_DIR, 'dwpose'), seed: 0 });
  val = splitBySequence(all, { seed: 0 }).val;
});

type Method = 'none' | 'polyfit' | 'svd-frame' | 'svd-seq';
function evaluate(samples: readonly AlignmentSample[]): Record<Method, number> {
  const acc: Record<Method, PoseDistance[]> = { none: [], polyfit: [], 'svd-frame': [], 'svd-seq': [] };
  for (const s of samples) {
    acc.none.push(poseDistance(s.driven, s.target));
    const poly = polyfitAlign(s.reference, s.driven.map((p) => ({ persons: [p] })), { refSize: s.size });
    acc.polyfit.push(poseDistance(poly.frames.map((f) => f.persons[0]!), s.target));
    acc['svd-frame'].push(poseDistance(alignSequenceSvd(s.reference, s.driven, { refSize: s.size }).aligned, s.target));
    acc['svd-seq'].push(poseDistance(alignSequenceSvd(s.reference, s.driven, { refSize: s.size, mode: 'sequence' }).aligned, s.target));
  }
  return Object.fromEntries(Object.entries(acc).map(([k, v]) => [k, poolDistances(v).mean])) as Record<Method, number>;
}

function report(label: string, source: string, options: SampleOptions): Record<Method, number> {
  const seqs = val.filter((s) => s.source === source);
  const samples = makeAlignmentSamples(seqs, createRng(0), { samplesPerSequence: 32, clipLength: 16, ...options });
  const dis = evaluate(samples);
  const cells = Object.entries(dis).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(' | ');
  console.log(`Dis ${label} [${seqs.map((s) => s.name).join(', ')}], ${samples.length} clips x 16: ${cells}`);
  return dis;
}

test('MisAlign on held-out DWPose: the SVD fit cuts Dis far below no alignment, polyfit in between', () => {
  const dis = report('dwpose', 'dwpose', {});
  assert.ok(dis['svd-frame'] < 0.25 * dis.none, `svd ${dis['svd-frame']} vs none ${dis.none}`);
  assert.ok(dis['svd-seq'] < 0.25 * dis.none);
  assert.ok(dis.polyfit < dis.none && dis['svd-frame'] < dis.polyfit);
});

test('MisAlign on held-out BVH projections (reference anywhere in the sequence, and within 30 frames)', () => {
  const anywhere = report('bvh', 'bvh', {});
  const near = report('bvh, reference within 30 frames', 'bvh', { maxReferenceGap: 30 });
  assert.ok(anywhere['svd-frame'] < anywhere.none);
  assert.ok(near['svd-frame'] < 0.5 * near.none, `svd ${near['svd-frame']} vs none ${near.none}`);
});
