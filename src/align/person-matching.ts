// Matching the persons of a driven frame to the persons of the reference frame, so that each driven person is
// aligned to its own reference. A person takes part when at least two of its body keypoints are visible (the
// least a similarity fit needs). Rule: when one side has more persons, only its largest ones (bounding box
// diagonal of the visible body points, in pixels) are kept; the kept persons of both sides are then paired in
// left-to-right order of their visible-body centroids. Side-by-side persons keep their order under the
// rotations, scalings and shifts alignment undoes, where size ranks can swap between similar persons.

import type { PersonPose } from '../pose/keypoints.ts';
import { VISIBLE_THRESHOLD } from '../pose/keypoints.ts';
import type { FrameSize } from '../pose/similarity.ts';

export interface PersonExtent {
  /** Centroid of the visible body points, pixels. */
  centre: [number, number];
  /** Bounding-box diagonal of the visible body points, pixels. */
  size: number;
  visible: number;
}

/** The extent of a person's visible body, or undefined when fewer than two body points are visible. */
export function personExtent(person: PersonPose, frameSize: FrameSize, threshold = VISIBLE_THRESHOLD): PersonExtent | undefined {
  const [w, h] = frameSize;
  let n = 0, cx = 0, cy = 0;
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (const [x, y, s] of person.body) {
    if (s < threshold) continue;
    const px = x * w, py = y * h;
    n++;
    cx += px;
    cy += py;
    x0 = Math.min(x0, px); x1 = Math.max(x1, px);
    y0 = Math.min(y0, py); y1 = Math.max(y1, py);
  }
  if (n < 2) return undefined;
  return { centre: [cx / n, cy / n], size: Math.hypot(x1 - x0, y1 - y0), visible: n };
}

export interface PersonMatching {
  /** [reference person index, driven person index] */
  pairs: [number, number][];
  /** Driven persons left without a reference (extra persons, or too few visible points). */
  unmatched: number[];
}

function largestInOrder(extents: (PersonExtent | undefined)[], keep: number): number[] {
  const usable = extents.flatMap((e, i) => (e ? [i] : []));
  const largest = usable.sort((a, b) => extents[b]!.size - extents[a]!.size || a - b).slice(0, keep);
  return largest.sort((a, b) => extents[a]!.centre[0] - extents[b]!.centre[0] || a - b);
}

export function matchPersons(
  reference: readonly PersonPose[], driven: readonly PersonPose[], refSize: FrameSize, drivenSize: FrameSize = refSize,
  threshold = VISIBLE_THRESHOLD,
): PersonMatching {
  const refExt = reference.map((p) => personExtent(p, refSize, threshold));
  const drvExt = driven.map((p) => personExtent(p, drivenSize, threshold));
  const n = Math.min(refExt.filter(Boolean).length, drvExt.filter(Boolean).length);
  const refs = largestInOrder(refExt, n);
  const drvs = largestInOrder(drvExt, n);
  const pairs = refs.map((r, i): [number, number] => [r, drvs[i]!]);
  const matched = new Set(drvs);
  return { pairs, unmatched: driven.map((_, i) => i).filter((i) => !matched.has(i)) };
}
