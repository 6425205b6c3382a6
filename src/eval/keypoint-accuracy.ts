// Detector accuracy against COCO ground truth: OKS (COCO's object keypoint similarity) and PCK with a torso
// reference, on the 17 COCO body keypoints, plus a normalised mean error for the 68 face points. Predicted
// persons are matched to ground-truth persons greedily by OKS (each used once).

import { OPENPOSE_FROM_COCO17 } from '../pose/convert.ts';
import type { PersonPose } from '../pose/keypoints.ts';

/** COCO's per-keypoint sigmas (nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles). */
export const COCO_SIGMAS = [0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07, 0.87, 0.87, 0.89, 0.89].map((s) => s / 10);

/** One ground-truth person: COCO triplets in pixels and the segment area. */
export interface GroundTruthPerson {
  keypoints: number[]; // 51
  area: number;
  face?: number[]; // 204 (68 triplets), when annotated
  faceBox?: [number, number, number, number];
  /** COCO-WholeBody hands, [left, right]: 63 numbers (21 triplets) each, when annotated, and their boxes. */
  hands?: [number[] | undefined, number[] | undefined];
  handBoxes?: [[number, number, number, number] | undefined, [number, number, number, number] | undefined];
}

/** COCO-17 pixel coordinates of a predicted person (x, y, score per keypoint). */
export function coco17FromPose(person: PersonPose, size: readonly [number, number]): [number, number, number][] {
  const out: [number, number, number][] = Array.from({ length: 17 }, () => [0, 0, 0]);
  OPENPOSE_FROM_COCO17.forEach((coco, op) => {
    if (coco < 0) return;
    const [x, y, s] = person.body[op];
    out[coco] = [x * size[0], y * size[1], s];
  });
  return out;
}

export function oks(pred: [number, number, number][], gt: GroundTruthPerson): number {
  let sum = 0;
  let n = 0;
  for (let k = 0; k < 17; k++) {
    if (gt.keypoints[3 * k + 2] <= 0) continue;
    const dx = pred[k][0] - gt.keypoints[3 * k];
    const dy = pred[k][1] - gt.keypoints[3 * k + 1];
    const kappa = 2 * COCO_SIGMAS[k];
    sum += Math.exp(-(dx * dx + dy * dy) / (2 * Math.max(gt.area, 1) * kappa * kappa));
    n++;
  }
  return n > 0 ? sum / n : Number.NaN;
}

/** Torso size: the longer shoulder-to-opposite-hip diagonal, when both ends of one are labelled. */
export function torsoSize(gt: GroundTruthPerson): number | undefined {
  const p = (k: number) => (gt.keypoints[3 * k + 2] > 0 ? [gt.keypoints[3 * k], gt.keypoints[3 * k + 1]] : undefined);
  const d = (a: number, b: number) => {
    const pa = p(a);
    const pb = p(b);
    return pa && pb ? Math.hypot(pa[0] - pb[0], pa[1] - pb[1]) : 0;
  };
  const size = Math.max(d(5, 12), d(6, 11));
  return size > 0 ? size : undefined;
}

export interface AccuracyCounts {
  /** Ground-truth persons with at least one labelled keypoint. */
  persons: number;
  /** Of those, matched to a prediction (OKS > 0). */
  matched: number;
  /** Sum of the matched persons' OKS (unmatched count as 0 in meanOks). */
  oksSum: number;
  oksAbove50: number;
  oksAbove75: number;
  /** PCK: labelled keypoints within alpha x torso of the prediction (score >= visibility threshold). */
  pckHits: Record<string, number>;
  pckTotal: number;
  /** Face: sum of per-point errors / sqrt(face box area), and the count. */
  faceErrorSum: number;
  facePoints: number;
  /** Hands: the same with sqrt(hand box area); labelled hands and those found. */
  handErrorSum: number;
  handPoints: number;
  handsLabelled: number;
  handsFound: number;
}

export function emptyCounts(alphas: number[] = [0.1, 0.2]): AccuracyCounts {
  return {
    persons: 0, matched: 0, oksSum: 0, oksAbove50: 0, oksAbove75: 0,
    pckHits: Object.fromEntries(alphas.map((a) => [String(a), 0])), pckTotal: 0, faceErrorSum: 0, facePoints: 0,
    handErrorSum: 0, handPoints: 0, handsLabelled: 0, handsFound: 0,
  };
}

/** Scores one image: predicted persons against ground-truth persons; adds into `counts`. */
export function scoreImage(
  predicted: PersonPose[], size: readonly [number, number], truth: GroundTruthPerson[], counts: AccuracyCounts,
  options: { visibility?: number } = {},
): void {
  const visibility = options.visibility ?? 0.3;
  const preds = predicted.map((p) => coco17FromPose(p, size));
  const gts = truth.filter((g) => g.keypoints.some((v, i) => i % 3 === 2 && v > 0));
  const pairs: { g: number; p: number; oks: number }[] = [];
  gts.forEach((g, gi) => preds.forEach((p, pi) => pairs.push({ g: gi, p: pi, oks: oks(p, g) })));
  pairs.sort((a, b) => b.oks - a.oks);
  const usedG = new Set<number>();
  const usedP = new Set<number>();
  const match = new Map<number, number>();
  for (const pr of pairs) {
    if (usedG.has(pr.g) || usedP.has(pr.p) || !(pr.oks > 0)) continue;
    usedG.add(pr.g);
    usedP.add(pr.p);
    match.set(pr.g, pr.p);
  }
  const alphas = Object.keys(counts.pckHits).map(Number);
  gts.forEach((g, gi) => {
    counts.persons++;
    const pi = match.get(gi);
    const p = pi === undefined ? undefined : preds[pi];
    if (p) {
      const o = oks(p, g);
      counts.matched++;
      counts.oksSum += o;
      if (o >= 0.5) counts.oksAbove50++;
      if (o >= 0.75) counts.oksAbove75++;
    }
    const torso = torsoSize(g);
    if (torso !== undefined) {
      for (let k = 0; k < 17; k++) {
        if (g.keypoints[3 * k + 2] <= 0) continue;
        counts.pckTotal++;
        if (!p || p[k][2] < visibility) continue;
        const d = Math.hypot(p[k][0] - g.keypoints[3 * k], p[k][1] - g.keypoints[3 * k + 1]);
        for (const a of alphas) if (d <= a * torso) counts.pckHits[String(a)]++;
      }
    }
    if (p && pi !== undefined && g.face && g.faceBox && g.faceBox[2] > 0) {
      const norm = Math.sqrt(g.faceBox[2] * g.faceBox[3]);
      const face = predicted[pi].face;
      for (let k = 0; k < 68; k++) {
        if (g.face[3 * k + 2] <= 0 || face[k][2] < visibility) continue;
        const d = Math.hypot(face[k][0] * size[0] - g.face[3 * k], face[k][1] * size[1] - g.face[3 * k + 1]);
        counts.faceErrorSum += d / norm;
        counts.facePoints++;
      }
    }
    for (const side of [0, 1] as const) {
      const labels = g.hands?.[side];
      const box = g.handBoxes?.[side];
      if (!labels || !box || box[2] <= 0 || !labels.some((v, i) => i % 3 === 2 && v > 0)) continue;
      counts.handsLabelled++;
      const hand = pi === undefined ? undefined : predicted[pi].hands[side];
      if (!hand || hand[0][2] < visibility) continue;
      counts.handsFound++;
      const norm = Math.sqrt(box[2] * box[3]);
      for (let k = 0; k < 21; k++) {
        if (labels[3 * k + 2] <= 0) continue;
        const d = Math.hypot(hand[k][0] * size[0] - labels[3 * k], hand[k][1] * size[1] - labels[3 * k + 1]);
        counts.handErrorSum += d / norm;
        counts.handPoints++;
      }
    }
  });
}

export interface AccuracySummary {
  persons: number;
  matched: number;
  meanOks: number;
  oks50: number;
  oks75: number;
  pck: Record<string, number>;
  faceNme: number;
  facePoints: number;
  handNme: number;
  handPoints: number;
  handsLabelled: number;
  handsFound: number;
}

export function summarize(c: AccuracyCounts): AccuracySummary {
  return {
    persons: c.persons,
    matched: c.matched,
    meanOks: c.persons ? c.oksSum / c.persons : Number.NaN,
    oks50: c.persons ? c.oksAbove50 / c.persons : Number.NaN,
    oks75: c.persons ? c.oksAbove75 / c.persons : Number.NaN,
    pck: Object.fromEntries(Object.entries(c.pckHits).map(([a, h]) => [a, c.pckTotal ? h / c.pckTotal : Number.NaN])),
    faceNme: c.facePoints ? c.faceErrorSum / c.facePoints : Number.NaN,
    facePoints: c.facePoints,
    handNme: c.handPoints ? c.handErrorSum / c.handPoints : Number.NaN,
    handPoints: c.handPoints,
    handsLabelled: c.handsLabelled,
    handsFound: c.handsFound,
  };
}
