// Pose files on disk: our own keypoint JSON (read and written), and readPoseFile, which reads any pose file
// by its content: ours, or DWPose's frames as other tools save them (JSON, .npy, a folder: dwpose-file.ts).
//
// Ours, "stable-animator-keypoints/1":
//   { "format": "stable-animator-keypoints/1", "size": [W, H], "fps"?: number,
//     "frames": [ { "persons": [ { "body": [[x, y, s] x18],
//                                  "hands": [[[x, y, s] x21], [[x, y, s] x21]],   // [left, right]
//                                  "face": [[[x, y, s] x68]] } ] } ] }
// Coordinates are normalised by W and H; s = 0 marks a missing point. "face" is written wrapped in one more
// array (one face per person, as DWPose stores faces); a bare list of 68 points is accepted when reading.
// "fps" is the frame rate of the video the poses came from (`poses extract` writes it for videos).

import { stat } from 'node:fs/promises';
import { writeFileAtomic } from '../io/atomic.ts';
import { isNpyPath } from '../io/npy.ts';
import { isDwposeSequence, parseDwposeSequence, readDwposeFolder, readDwposeNpy, type DwposeReadOptions } from './dwpose-file.ts';
import { NUM_BODY, NUM_FACE, NUM_HAND } from './keypoints.ts';
import type { Keypoint, PersonPose, PoseFrame, PoseSequence } from './keypoints.ts';
import {
  describe, expectArray, expectNumber, isRecord, PoseFileError, readFps, readJson, readSize, type PoseFileLocation,
} from './pose-file-check.ts';

export { PoseFileError } from './pose-file-check.ts';

export const KEYPOINT_FORMAT = 'stable-animator-keypoints/1';

function readKeypoints(value: unknown, count: number, where: PoseFileLocation): Keypoint[] {
  const list = expectArray(value, where, count, 'keypoints');
  return list.map((k, i) => {
    const at = { ...where, field: `${where.field}[${i}]` };
    const triple = expectArray(k, at, 3, 'numbers [x, y, score]');
    return [expectNumber(triple[0], at), expectNumber(triple[1], at), expectNumber(triple[2], at)];
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Our format

export function parseKeypointJson(value: unknown, file = '<keypoints>'): PoseSequence {
  if (!isRecord(value)) throw new PoseFileError({ file }, `expected a JSON object, found ${describe(value)}`);
  if (value.format !== KEYPOINT_FORMAT) {
    throw new PoseFileError({ file, field: 'format' }, `expected "${KEYPOINT_FORMAT}", found ${describe(value.format)}`);
  }
  const size = readSize(value.size, { file, field: 'size' });
  const fps = readFps(value.fps, { file, field: 'fps' });
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

/**
 * Reads a pose file recognised by its content: our keypoint JSON, or DWPose frames as JSON, as a .npy (read
 * through the restricted unpickler) or as a folder of per-frame files.
 */
export async function readPoseFile(path: string, options: DwposeReadOptions = {}): Promise<PoseSequence> {
  if ((await stat(path)).isDirectory()) return readDwposeFolder(path, options);
  if (isNpyPath(path)) return readDwposeNpy(path, options);
  const value = await readJson(path);
  if (isRecord(value) && value.format === KEYPOINT_FORMAT) return parseKeypointJson(value, path);
  if (isDwposeSequence(value)) return parseDwposeSequence(value, path, options);
  throw new PoseFileError({ file: path }, `unknown pose format: expected "format": "${KEYPOINT_FORMAT}", or DWPose frames ` +
    '(a list of dicts with "bodies", "hands", "faces", or {"frames": [...]} with "body_candidate_18x2", ...)');
}
