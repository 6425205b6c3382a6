// Face landmarks with MediaPipe FaceMesh (468 points from an upright 192x192 face crop), and their mapping to
// the 68-point iBUG layout that DWPose's face uses (COCO-WholeBody face order: jaw 0-16, brows 17-26, nose
// 27-35, eyes 36-47, mouth 48-67).

import type { Image } from '../../io/image.ts';
import type { Coco17 } from './body.ts';
import { runLandmarkModel, type CropRegion } from './models.ts';

export const FACEMESH_INPUT = 192;

/** For each of the 68 iBUG points, the FaceMesh vertex that sits there. */
export const IBUG68_FROM_MESH: readonly number[] = [
  162, 234, 93, 58, 172, 136, 149, 148, 152, 377, 378, 365, 397, 288, 323, 454, 389, // jaw, image left to right
  71, 63, 105, 66, 107, 336, 296, 334, 293, 301, // brows
  168, 197, 5, 4, 75, 97, 2, 326, 305, // nose bridge and base
  33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380, // eyes
  61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181, // outer lips
  78, 82, 13, 312, 308, 317, 14, 87, // inner lips
];

/** FaceMesh vertices for the five ArcFace alignment points (eye centres from their contours). */
export const MESH_LEFT_EYE_RING = [33, 160, 158, 133, 153, 144]; // the eye on the image's left (subject's right)
export const MESH_RIGHT_EYE_RING = [362, 385, 387, 263, 373, 380];
export const MESH_NOSE_TIP = 4;
export const MESH_MOUTH_LEFT = 61;
export const MESH_MOUTH_RIGHT = 291;

/** An upright square region: centre, side and rotation (radians, the face's up direction is R(angle)·(0,-1)). */
export type FaceRegion = CropRegion;

export interface FaceMeshResult {
  /** 468 points [x, y] in image pixels. */
  mesh: [number, number][];
  /** FaceMesh's face-presence probability. */
  score: number;
  region: FaceRegion;
}

/** Runs FaceMesh on a region of the image. */
export async function runFaceMesh(image: Image, region: FaceRegion): Promise<FaceMeshResult> {
  const { points, score } = await runLandmarkModel(image, region, 'facemesh', FACEMESH_INPUT, ['Identity_2:0', 'Identity_1:0'], 468);
  return { mesh: points, score, region };
}

function mean(points: [number, number][], idx: readonly number[]): [number, number] {
  let x = 0;
  let y = 0;
  for (const i of idx) {
    x += points[i][0];
    y += points[i][1];
  }
  return [x / idx.length, y / idx.length];
}

/** The region MediaPipe would crop next from a mesh: its box x1.5, upright along the eye line. */
export function regionFromMesh(mesh: [number, number][], scale = 1.5): FaceRegion {
  const a = mean(mesh, MESH_LEFT_EYE_RING);
  const b = mean(mesh, MESH_RIGHT_EYE_RING);
  const angle = Math.atan2(b[1] - a[1], b[0] - a[0]);
  // The box in the rotated frame.
  const cos = Math.cos(-angle);
  const sin = Math.sin(-angle);
  let x1 = Infinity;
  let y1 = Infinity;
  let x2 = -Infinity;
  let y2 = -Infinity;
  for (const [x, y] of mesh) {
    const u = cos * x - sin * y;
    const v = sin * x + cos * y;
    x1 = Math.min(x1, u); x2 = Math.max(x2, u);
    y1 = Math.min(y1, v); y2 = Math.max(y2, v);
  }
  const cu = (x1 + x2) / 2;
  const cv = (y1 + y2) / 2;
  const center: [number, number] = [Math.cos(angle) * cu - Math.sin(angle) * cv, Math.sin(angle) * cu + Math.cos(angle) * cv];
  return { center, side: Math.max(x2 - x1, y2 - y1) * scale, angle };
}

/** A first face region from the head keypoints of a COCO-17 body, or undefined without two head points. */
export function regionFromBody(kp: Coco17, minScore = 0.3): FaceRegion | undefined {
  const at = (k: number) => (kp.scores[k] >= minScore ? [kp.xy[2 * k], kp.xy[2 * k + 1]] as [number, number] : undefined);
  const nose = at(0);
  const leftEye = at(1); // subject's left: the image's right for a frontal face
  const rightEye = at(2);
  const leftEar = at(3);
  const rightEar = at(4);
  const head = [nose, leftEye, rightEye, leftEar, rightEar].filter((p): p is [number, number] => p !== undefined);
  if (head.length < 2 || !nose) return undefined;
  const dist = (p?: [number, number], q?: [number, number]) => (p && q ? Math.hypot(p[0] - q[0], p[1] - q[1]) : 0);
  const width = Math.max(2.5 * dist(leftEye, rightEye), dist(leftEar, rightEar), 1.6 * Math.max(dist(nose, leftEar), dist(nose, rightEar)), 3 * Math.max(dist(nose, leftEye), dist(nose, rightEye)));
  if (!(width > 4)) return undefined;
  const angle = leftEye && rightEye ? Math.atan2(leftEye[1] - rightEye[1], leftEye[0] - rightEye[0]) : 0;
  const eyes = leftEye && rightEye ? [(leftEye[0] + rightEye[0]) / 2, (leftEye[1] + rightEye[1]) / 2] : nose;
  // The face centre lies a little below the eyes, towards the mouth.
  const center: [number, number] = [(eyes[0] + nose[0]) / 2 - Math.sin(angle) * 0.15 * width, (eyes[1] + nose[1]) / 2 + Math.cos(angle) * 0.15 * width];
  return { center, side: 1.7 * width, angle };
}

export interface BodyFace {
  mesh: [number, number][];
  /** 68 points [x, y, score] in image pixels (the score is FaceMesh's presence probability). */
  points68: [number, number, number][];
  score: number;
}

/** FaceMesh on a region, refined once from its own mesh; undefined when no face is there. */
export async function refineFace(image: Image, region: FaceRegion, minScore = 0.5): Promise<BodyFace | undefined> {
  let result = await runFaceMesh(image, region);
  if (result.score < minScore) return undefined;
  const second = await runFaceMesh(image, regionFromMesh(result.mesh));
  if (second.score >= result.score * 0.9) result = second;
  const s = result.score;
  return { mesh: result.mesh, points68: IBUG68_FROM_MESH.map((i) => [result.mesh[i][0], result.mesh[i][1], s]), score: s };
}

export async function faceFromBody(image: Image, kp: Coco17): Promise<BodyFace | undefined> {
  const region = regionFromBody(kp);
  return region ? refineFace(image, region) : undefined;
}
