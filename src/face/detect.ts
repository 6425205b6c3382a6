// Face detection with the embedded models: BlazeFace (256x256, 896 anchors) finds faces in the whole image,
// FaceMesh refines each one into 468 landmarks, a tight box and the five ArcFace alignment points. Faces too
// small for BlazeFace (full-body frames) can be found from body keypoints instead (`fromBodies`).

import * as torch from '../torch/index.ts';
import type { Image } from '../io/image.ts';
import { nms, type Box } from '../pose/dwpose/yolox.ts';
import { detectPersonBoxes, estimateBody } from '../pose/embedded/body.ts';
import {
  MESH_LEFT_EYE_RING, MESH_MOUTH_LEFT, MESH_MOUTH_RIGHT, MESH_NOSE_TIP, MESH_RIGHT_EYE_RING, regionFromBody, refineFace, type FaceRegion,
} from '../pose/embedded/face.ts';
import { cropTensor, loadEmbeddedModel } from '../pose/embedded/models.ts';
import type { Affine } from '../pose/warp.ts';

export const BLAZEFACE_INPUT = 256;

export interface Face {
  /** Tight face box [x1, y1, x2, y2] in image pixels (from the mesh when there is one). */
  box: Box;
  /** Detection confidence (BlazeFace score, or FaceMesh presence when found from a body). */
  score: number;
  /**
   * Five alignment points in image pixels, ArcFace's order: the eye on the image's left, the other eye, nose
   * tip, the mouth corner on the image's left, the other mouth corner.
   */
  landmarks?: [number, number][];
  /** FaceMesh's 468 points, when the mesh was run. */
  mesh?: [number, number][];
}

/** BlazeFace's anchors (centres in input pixels): strides 16 (2 per cell) then 32 (6 per cell). */
export function blazefaceAnchors(size = BLAZEFACE_INPUT): [number, number][] {
  const anchors: [number, number][] = [];
  for (const [stride, count] of [[size / 16, 2], [size / 8, 6]]) {
    const cells = Math.ceil(size / stride);
    for (let y = 0; y < cells; y++) {
      for (let x = 0; x < cells; x++) {
        for (let n = 0; n < count; n++) anchors.push([stride * (x + 0.5), stride * (y + 0.5)]);
      }
    }
  }
  return anchors;
}

export interface RawFaceBox {
  box: Box;
  score: number;
  /** Six BlazeFace points: two eyes, nose, mouth, two ears (image pixels). */
  keypoints: [number, number][];
}

/** Decodes BlazeFace rows [logit, cx, cy, w, h, 6 x (x, y)] (anchor-relative, input pixels). */
export function decodeBlazeface(rows: Float32Array, anchors: [number, number][], toImage: (x: number, y: number) => [number, number], minScore: number): RawFaceBox[] {
  const out: RawFaceBox[] = [];
  for (let i = 0; i < anchors.length; i++) {
    const r = rows.subarray(17 * i, 17 * i + 17);
    const score = 1 / (1 + Math.exp(-r[0]));
    if (score < minScore) continue;
    const [ax, ay] = anchors[i];
    const cx = r[1] + ax;
    const cy = r[2] + ay;
    const [x1, y1] = toImage(cx - r[3] / 2, cy - r[4] / 2);
    const [x2, y2] = toImage(cx + r[3] / 2, cy + r[4] / 2);
    const keypoints: [number, number][] = [];
    for (let k = 0; k < 6; k++) keypoints.push(toImage(r[5 + 2 * k] + ax, r[6 + 2 * k] + ay));
    out.push({ box: [x1, y1, x2, y2], score, keypoints });
  }
  return out;
}

export interface DetectFacesOptions {
  /** BlazeFace score threshold (default 0.5). */
  minScore?: number;
  /** NMS IoU (default 0.3). */
  iou?: number;
  /** Refine with FaceMesh (landmarks, tight box). Default true. */
  mesh?: boolean;
  /** When BlazeFace finds nothing, look for faces at the heads of detected bodies. Default true. */
  fromBodies?: boolean;
}

/** BlazeFace on the image padded to a square: raw boxes in image pixels, best first. */
export async function blazefaceBoxes(image: Image, options: { minScore?: number; iou?: number } = {}): Promise<RawFaceBox[]> {
  const graph = await loadEmbeddedModel('blazeface');
  const S = BLAZEFACE_INPUT;
  const side = Math.max(image.width, image.height);
  const s = S / side;
  const ox = (side - image.width) / 2;
  const oy = (side - image.height) / 2;
  // Image -> padded square -> S x S (pixel centres aligned).
  const m: Affine = [s, 0, (ox + 0.5) * s - 0.5, 0, s, (oy + 0.5) * s - 0.5];
  const [a, b, c, d] = torch.scope(() => {
    const x = cropTensor(image, m, S, S, 1 / 127.5).sub(1);
    const outs = graph.execute({ input: x }, ['Identity:0', 'Identity_2:0', 'Identity_1:0', 'Identity_3:0']);
    return outs.map((t) => t.data<'f32'>());
  });
  // Rows [score | 16 regressors]: the 512 stride-16 anchors, then the 384 stride-32 ones.
  const rows = new Float32Array(896 * 17);
  const fill = (scores: Float32Array, regs: Float32Array, offset: number, n: number) => {
    for (let i = 0; i < n; i++) {
      rows[17 * (offset + i)] = scores[i];
      rows.set(regs.subarray(16 * i, 16 * i + 16), 17 * (offset + i) + 1);
    }
  };
  fill(a, b, 0, 512);
  fill(c, d, 512, 384);
  const toImage = (x: number, y: number): [number, number] => [(x + 0.5) / s - 0.5 - ox, (y + 0.5) / s - 0.5 - oy];
  const raw = decodeBlazeface(rows, blazefaceAnchors(S), toImage, options.minScore ?? 0.5);
  return nms(raw.map((r) => r.box), raw.map((r) => r.score), options.iou ?? 0.3).map((i) => raw[i]);
}

function meanPoint(points: [number, number][], idx: readonly number[]): [number, number] {
  let x = 0;
  let y = 0;
  for (const i of idx) {
    x += points[i][0];
    y += points[i][1];
  }
  return [x / idx.length, y / idx.length];
}

/** ArcFace's five points from a FaceMesh. */
export function landmarks5FromMesh(mesh: [number, number][]): [number, number][] {
  return [meanPoint(mesh, MESH_LEFT_EYE_RING), meanPoint(mesh, MESH_RIGHT_EYE_RING), mesh[MESH_NOSE_TIP], mesh[MESH_MOUTH_LEFT], mesh[MESH_MOUTH_RIGHT]];
}

export function meshBox(mesh: [number, number][]): Box {
  const xs = mesh.map((p) => p[0]);
  const ys = mesh.map((p) => p[1]);
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
}

function clampBox(b: Box, image: Image): Box {
  return [Math.max(0, b[0]), Math.max(0, b[1]), Math.min(image.width, b[2]), Math.min(image.height, b[3])];
}

function regionFromBlazeface(raw: RawFaceBox): FaceRegion {
  const [x1, y1, x2, y2] = raw.box;
  const [e0, e1] = raw.keypoints;
  const angle = Math.atan2(e1[1] - e0[1], e1[0] - e0[0]);
  return { center: [(x1 + x2) / 2, (y1 + y2) / 2], side: Math.max(x2 - x1, y2 - y1) * 1.5, angle };
}

async function meshFace(image: Image, region: FaceRegion, score?: number): Promise<Face | undefined> {
  const refined = await refineFace(image, region);
  if (!refined) return undefined;
  return { box: clampBox(meshBox(refined.mesh), image), score: score ?? refined.score, landmarks: landmarks5FromMesh(refined.mesh), mesh: refined.mesh };
}

/** Every face in the image, best first. */
export async function detectFaces(image: Image, options: DetectFacesOptions = {}): Promise<Face[]> {
  const raw = await blazefaceBoxes(image, options);
  const faces: Face[] = [];
  for (const r of raw) {
    if (options.mesh === false) {
      faces.push({ box: clampBox(r.box, image), score: r.score });
      continue;
    }
    const face = await meshFace(image, regionFromBlazeface(r), r.score);
    if (face) faces.push(face);
  }
  if (faces.length === 0 && options.fromBodies !== false && options.mesh !== false) {
    for (const person of await detectPersonBoxes(image)) {
      const region = regionFromBody(await estimateBody(image, person.box));
      const face = region ? await meshFace(image, region) : undefined;
      if (face) faces.push(face);
    }
  }
  return faces;
}

export function boxArea(b: Box): number {
  return Math.max(0, b[2] - b[0]) * Math.max(0, b[3] - b[1]);
}

/** The face with the largest box, or undefined. */
export function largestFace(faces: Face[]): Face | undefined {
  return faces.reduce<Face | undefined>((best, f) => (!best || boxArea(f.box) > boxArea(best.box) ? f : best), undefined);
}
