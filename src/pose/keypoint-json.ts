// Pose files on disk: our own keypoint JSON (read and written) and DWPose's per-frame dump (read).
//
// Ours, "stable-animator-keypoints/1":
//   { "format": "stable-animator-keypoints/1", "size": [W, H], "fps"?: number,
//     "frames": [ { "persons": [ { "body": [[x, y, s] x18],
//                                  "hands": [[[x, y, s] x21], [[x, y, s] x21]],   // [left, right]
//                                  "face": [[[x, y, s] x68]] } ] } ] }
// Coordinates are normalised by W and H; s = 0 marks a missing point. "face" is written wrapped in one more
// array (one face per person, as DWPose stores faces); a bare list of 68 points is accepted when reading.
//
// DWPose's dump (one object per frame, numpy arrays as lists; N persons):
//   body_candidate_18x2 (18N x 2), body_subset (N x 18; index or -1 when the score is <= 0.3),
//   body_score (N x 18), hands_2x21x2 (2N x 21 x 2: the N left hands, then the N right hands),
//   hands_score (2N x 21), faces_1x68x2 (N x 68 x 2), faces_score (N x 68).
// An optional top-level "size": [W, H] gives the frame size; otherwise draw_pose_params' [H, W] is used when
// present, and else the frame is taken as square. Body points whose subset entry is -1 get score 0.

import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../io/atomic.ts';
import { LIMITS } from '../io/limits.ts';
import { NUM_BODY, NUM_FACE, NUM_HAND } from './keypoints.ts';
import type { Keypoint, PersonPose, PoseFrame, PoseSequence } from './keypoints.ts';

export const KEYPOINT_FORMAT = 'stable-animator-keypoints/1';

/** Side of the square frame assumed for DWPose files that give no size. */
export const DEFAULT_SQUARE_SIDE = 512;

export interface PoseFileLocation {
  file: string;
  frame?: number;
  person?: number;
  field?: string;
}

/** A malformed pose file; the message names the file, frame, person and field. */
export class PoseFileError extends Error {
  readonly location: PoseFileLocation;
  constructor(location: PoseFileLocation, detail: string) {
    const parts: string[] = [];
    if (location.frame !== undefined) parts.push(`frame ${location.frame}`);
    if (location.person !== undefined) parts.push(`person ${location.person}`);
    if (location.field !== undefined) parts.push(`field "${location.field}"`);
    super(`${location.file}: ${parts.length > 0 ? parts.join(', ') + ': ' : ''}${detail}`);
    this.name = 'PoseFileError';
    this.location = location;
  }
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value === null) return 'null';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function expectArray(value: unknown, where: PoseFileLocation, length?: number, what = 'entries'): unknown[] {
  if (!Array.isArray(value)) throw new PoseFileError(where, `expected an array${length !== undefined ? ` of ${length} ${what}` : ''}, found ${describe(value)}`);
  if (length !== undefined && value.length !== length) {
    throw new PoseFileError(where, `expected ${length} ${what}, found ${value.length}`);
  }
  return value;
}

function expectNumber(value: unknown, where: PoseFileLocation): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new PoseFileError(where, `expected a finite number, found ${describe(value)}`);
  return value;
}

function readKeypoints(value: unknown, count: number, where: PoseFileLocation): Keypoint[] {
  const list = expectArray(value, where, count, 'keypoints');
  return list.map((k, i) => {
    const at = { ...where, field: `${where.field}[${i}]` };
    const triple = expectArray(k, at, 3, 'numbers [x, y, score]');
    return [expectNumber(triple[0], at), expectNumber(triple[1], at), expectNumber(triple[2], at)];
  });
}

function readSize(value: unknown, where: PoseFileLocation): [number, number] {
  const pair = expectArray(value, where, 2, 'numbers [W, H]');
  const w = expectNumber(pair[0], where);
  const h = expectNumber(pair[1], where);
  if (!(w > 0 && h > 0)) throw new PoseFileError(where, `expected a positive size, found [${w}, ${h}]`);
  // checked here, before anything is drawn at this size
  if (w > LIMITS.frameSide || h > LIMITS.frameSide) {
    throw new PoseFileError(where, `expected at most ${LIMITS.frameSide} pixels a side, found [${w}, ${h}] (set STABLE_ANIMATOR_MAX_SIDE to raise the limit)`);
  }
  return [w, h];
}

// ---------------------------------------------------------------------------------------------------------------
// Our format

export function parseKeypointJson(value: unknown, file = '<keypoints>'): PoseSequence {
  if (!isRecord(value)) throw new PoseFileError({ file }, `expected a JSON object, found ${describe(value)}`);
  if (value.format !== KEYPOINT_FORMAT) {
    throw new PoseFileError({ file, field: 'format' }, `expected "${KEYPOINT_FORMAT}", found ${describe(value.format)}`);
  }
  const size = readSize(value.size, { file, field: 'size' });
  let fps: number | undefined;
  if (value.fps !== undefined) {
    fps = expectNumber(value.fps, { file, field: 'fps' });
    if (!(fps > 0)) throw new PoseFileError({ file, field: 'fps' }, `expected a positive number, found ${fps}`);
  }
  const frames = expectArray(value.frames, { file, field: 'frames' }).map((frameValue, f): PoseFrame => {
    if (!isRecord(frameValue)) throw new PoseFileError({ file, frame: f }, `expected an object, found ${describe(frameValue)}`);
    const persons = expectArray(frameValue.persons, { file, frame: f, field: 'persons' }).map((pv, p): PersonPose => {
      const at = (field: string): PoseFileLocation => ({ file, frame: f, person: p, field });
      if (!isRecord(pv)) throw new PoseFileError({ file, frame: f, person: p }, `expected an object, found ${describe(pv)}`);
      const body = readKeypoints(pv.body, NUM_BODY, at('body'));
      const hands = expectArray(pv.hands, at('hands'), 2, 'hands [left, right]');
      const left = readKeypoints(hands[0], NUM_HAND, at('hands[0]'));
      const right = readKeypoints(hands[1], NUM_HAND, at('hands[1]'));
      // One face per person, wrapped ([[...68]]); a bare list of 68 keypoints is accepted too.
      let faceValue = pv.face;
      if (Array.isArray(faceValue) && faceValue.length === 1 && Array.isArray(faceValue[0]) && Array.isArray(faceValue[0][0])) {
        faceValue = faceValue[0];
      }
      const face = readKeypoints(faceValue, NUM_FACE, at(faceValue === pv.face ? 'face' : 'face[0]'));
      return { body, hands: [left, right], face };
    });
    return { persons };
  });
  return fps === undefined ? { size, frames } : { size, fps, frames };
}

/** The JSON object for a sequence, validated on the way so that a malformed sequence is never written. */
export function toKeypointJson(sequence: PoseSequence, file = '<sequence to write>'): object {
  const out = {
    format: KEYPOINT_FORMAT,
    size: [sequence.size[0], sequence.size[1]],
    ...(sequence.fps !== undefined ? { fps: sequence.fps } : {}),
    frames: sequence.frames.map((frame) => ({
      persons: frame.persons.map((p) => ({ body: p.body, hands: [p.hands[0], p.hands[1]], face: [p.face] })),
    })),
  };
  parseKeypointJson(out, file);
  return out;
}

export function serializeKeypointJson(sequence: PoseSequence, file?: string): string {
  return JSON.stringify(toKeypointJson(sequence, file)) + '\n';
}

export async function readKeypointJson(path: string): Promise<PoseSequence> {
  return parseKeypointJson(await readJson(path), path);
}

/** Validates, then writes atomically (a temporary file next to the target, renamed over it). */
export async function writeKeypointJson(path: string, sequence: PoseSequence): Promise<void> {
  await writeFileAtomic(path, serializeKeypointJson(sequence, path));
}

// ---------------------------------------------------------------------------------------------------------------
// DWPose's dump

export interface DwposeReadOptions {
  /** Side of the square frame assumed when the file gives no size; default DEFAULT_SQUARE_SIDE. */
  squareSide?: number;
}

function readXy(value: unknown, where: PoseFileLocation): [number, number] {
  const pair = expectArray(value, where, 2, 'numbers [x, y]');
  return [expectNumber(pair[0], where), expectNumber(pair[1], where)];
}

function readScored(points: unknown, scores: unknown, count: number, where: PoseFileLocation, scoreField: string): Keypoint[] {
  const xy = expectArray(points, where, count, 'keypoints');
  const s = expectArray(scores, { ...where, field: scoreField }, count, 'scores');
  return xy.map((pt, i) => {
    const [x, y] = readXy(pt, { ...where, field: `${where.field}[${i}]` });
    return [x, y, expectNumber(s[i], { ...where, field: `${scoreField}[${i}]` })];
  });
}

function dwposeFrame(value: unknown, file: string, f: number): PoseFrame {
  if (!isRecord(value)) throw new PoseFileError({ file, frame: f }, `expected an object, found ${describe(value)}`);
  const at = (field: string, person?: number): PoseFileLocation => ({ file, frame: f, person, field });
  const subset = expectArray(value.body_subset, at('body_subset'));
  const n = subset.length;
  const candidate = expectArray(value.body_candidate_18x2, at('body_candidate_18x2'), NUM_BODY * n, `rows (18 per person, ${n} person(s))`);
  const bodyScore = expectArray(value.body_score, at('body_score'), n, 'rows (one per person)');
  const hands = expectArray(value.hands_2x21x2, at('hands_2x21x2'), 2 * n, 'hands (two per person)');
  const handScore = expectArray(value.hands_score, at('hands_score'), 2 * n, 'rows (two per person)');
  const faces = expectArray(value.faces_1x68x2, at('faces_1x68x2'), n, 'faces (one per person)');
  const faceScore = expectArray(value.faces_score, at('faces_score'), n, 'rows (one per person)');
  const persons: PersonPose[] = [];
  for (let p = 0; p < n; p++) {
    const sub = expectArray(subset[p], at(`body_subset[${p}]`, p), NUM_BODY, 'entries');
    const scores = expectArray(bodyScore[p], at(`body_score[${p}]`, p), NUM_BODY, 'scores');
    const body: Keypoint[] = [];
    for (let j = 0; j < NUM_BODY; j++) {
      const [x, y] = readXy(candidate[NUM_BODY * p + j], at(`body_candidate_18x2[${NUM_BODY * p + j}]`, p));
      const index = expectNumber(sub[j], at(`body_subset[${p}][${j}]`, p));
      const score = expectNumber(scores[j], at(`body_score[${p}][${j}]`, p));
      body.push([x, y, index < 0 ? 0 : score]);
    }
    const left = readScored(hands[p], handScore[p], NUM_HAND, at(`hands_2x21x2[${p}]`, p), `hands_score[${p}]`);
    const right = readScored(hands[n + p], handScore[n + p], NUM_HAND, at(`hands_2x21x2[${n + p}]`, p), `hands_score[${n + p}]`);
    const face = readScored(faces[p], faceScore[p], NUM_FACE, at(`faces_1x68x2[${p}]`, p), `faces_score[${p}]`);
    persons.push({ body, hands: [left, right], face });
  }
  return { persons };
}

/** DWPose's dump: frames holding "body_candidate_18x2" (an empty frame list without our "format" counts too). */
export function isDwposeJson(value: unknown): boolean {
  if (!isRecord(value) || !Array.isArray(value.frames)) return false;
  if (value.frames.length === 0) return value.format === undefined;
  const first = value.frames[0];
  return isRecord(first) && 'body_candidate_18x2' in first;
}

export function parseDwposeJson(value: unknown, file = '<dwpose>', options: DwposeReadOptions = {}): PoseSequence {
  if (!isRecord(value)) throw new PoseFileError({ file }, `expected a JSON object, found ${describe(value)}`);
  const frameValues = expectArray(value.frames, { file, field: 'frames' });
  let size: [number, number];
  if (value.size !== undefined) {
    size = readSize(value.size, { file, field: 'size' });
  } else {
    const first = frameValues[0];
    const params = isRecord(first) ? first.draw_pose_params : undefined;
    if (Array.isArray(params) && params.length >= 2) {
      const [h, w] = readSize(params.slice(0, 2), { file, frame: 0, field: 'draw_pose_params' });
      size = [w, h];
    } else {
      const side = options.squareSide ?? DEFAULT_SQUARE_SIDE;
      size = [side, side];
    }
  }
  const frames = frameValues.map((fv, f) => dwposeFrame(fv, file, f));
  if (value.fps !== undefined) {
    const fps = expectNumber(value.fps, { file, field: 'fps' });
    return { size, fps, frames };
  }
  return { size, frames };
}

// ---------------------------------------------------------------------------------------------------------------

async function readJson(path: string): Promise<unknown> {
  const text = await readFile(path, 'utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new PoseFileError({ file: path }, `not valid JSON (${(err as Error).message})`);
  }
}

/** Reads a pose file in either format, recognised by its content. */
export async function readPoseFile(path: string, options: DwposeReadOptions = {}): Promise<PoseSequence> {
  const value = await readJson(path);
  if (isRecord(value) && value.format === KEYPOINT_FORMAT) return parseKeypointJson(value, path);
  if (isDwposeJson(value)) return parseDwposeJson(value, path, options);
  throw new PoseFileError({ file: path }, `unknown pose format: expected "format": "${KEYPOINT_FORMAT}" or DWPose frames with "body_candidate_18x2"`);
}
