// DWPose keypoint sequences as other tools save them (frames parsed by dwpose-dict.ts):
//   - a list of per-frame dicts: MusePose's extract_dwpose_keypoints.py saves np.array(list of dicts) with
//     np.save (a .npy object array, read through the restricted unpickler: src/io/npy.ts); the same list as
//     JSON (numpy arrays as lists);
//   - a folder of per-frame files, one dict each, in natural order: frame_0.json, ... (MimicMotion-style JSON)
//     or 0.npy, ... (np.save of one dict: a 0-d object array);
//   - one dict: a single frame;
//   - {"frames": [...], "size"?: [W, H], "fps"?: N}: our container for dumps (body_candidate_18x2, ...) or dicts.
// None of the tools' files record the frame size: "size" gives it where present, else draw_pose_params' [H, W]
// of the first frame, else the frame is taken as square (DEFAULT_SQUARE_SIDE). Only the container carries fps.

import { readdir } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { isImagePath } from '../io/image.ts';
import { sortNatural } from '../io/natural-sort.ts';
import { readNpy } from '../io/npy.ts';
import { isDwposeDict, isDwposeDump, parseDwposeFrame } from './dwpose-dict.ts';
import type { PoseFrame, PoseSequence } from './keypoints.ts';
import { expectArray, isRecord, PoseFileError, readFps, readJson, readSize } from './pose-file-check.ts';

/** Side of the square frame assumed for DWPose files that give no size. */
export const DEFAULT_SQUARE_SIDE = 512;

export interface DwposeReadOptions {
  /** Side of the square frame assumed when the file gives no size; default DEFAULT_SQUARE_SIDE. */
  squareSide?: number;
}

const isFrame = (v: unknown) => isDwposeDump(v) || isDwposeDict(v);

/** The frames of a value in one of the forms above, or undefined when it is none of them. */
function frameValues(value: unknown): unknown[] | undefined {
  if (Array.isArray(value)) return value.length === 0 || isFrame(value[0]) ? value : undefined;
  if (isRecord(value) && Array.isArray(value.frames)) {
    // An empty list counts only without a "format" (which would name another format).
    return value.frames.length === 0 ? (value.format === undefined ? [] : undefined) : isFrame(value.frames[0]) ? value.frames : undefined;
  }
  return isFrame(value) ? [value] : undefined;
}

/** True for DWPose frames in any of the forms above (an empty frame list counts too). */
export function isDwposeSequence(value: unknown): boolean {
  return frameValues(value) !== undefined;
}

export function parseDwposeSequence(value: unknown, file = '<dwpose>', options: DwposeReadOptions = {}): PoseSequence {
  const values = frameValues(value);
  if (!values) {
    throw new PoseFileError({ file }, 'unknown pose format: expected DWPose frames (a list of dicts with "bodies", "hands", "faces", ' +
      'or {"frames": [...]} with "body_candidate_18x2", ...)');
  }
  const container = isRecord(value) && Array.isArray(value.frames) ? value : undefined;
  const size = frameSize(container?.size, values[0], file, options);
  const fps = readFps(container?.fps, { file, field: 'fps' });
  const frames = values.map((v, f) => parseDwposeFrame(v, { file, frame: f }));
  return fps === undefined ? { size, frames } : { size, fps, frames };
}

function frameSize(size: unknown, first: unknown, file: string, options: DwposeReadOptions): [number, number] {
  if (size !== undefined) return readSize(size, { file, field: 'size' });
  const params = isRecord(first) ? first.draw_pose_params : undefined;
  if (Array.isArray(params) && params.length >= 2) {
    const [h, w] = readSize(params.slice(0, 2), { file, frame: 0, field: 'draw_pose_params' });
    return [w, h];
  }
  const side = options.squareSide ?? DEFAULT_SQUARE_SIDE;
  return [side, side];
}

/** A .npy of DWPose frames (an object array of dicts, or one dict). */
export async function readDwposeNpy(path: string, options: DwposeReadOptions = {}): Promise<PoseSequence> {
  const npy = await readNpy(path);
  if (npy.dtype !== 'object') {
    throw new PoseFileError({ file: path }, `expected DWPose dicts (an object array), found a ${npy.dtype} array of shape (${npy.shape.join(', ')})`);
  }
  return parseDwposeSequence(npy.value, path, options);
}

const POSE_FILE = new Set(['.npy', '.json']);

/** The per-frame pose files (.npy, .json) of a folder holding no images, in natural order; [] otherwise. */
export async function listPoseFrameFiles(dir: string): Promise<string[]> {
  const names = await readdir(dir);
  if (names.some((name) => isImagePath(name))) return [];
  return sortNatural(names.filter((name) => POSE_FILE.has(extname(name).toLowerCase()))).map((name) => join(dir, name));
}

/** A folder of per-frame DWPose files, one frame each. */
export async function readDwposeFolder(dir: string, options: DwposeReadOptions = {}): Promise<PoseSequence> {
  const files = await listPoseFrameFiles(dir);
  if (files.length === 0) throw new PoseFileError({ file: dir }, 'expected per-frame pose files (.npy or .json, one DWPose dict each) and no images, found none');
  let size: [number, number] | undefined;
  const frames: PoseFrame[] = [];
  for (const file of files) {
    const value = extname(file).toLowerCase() === '.npy' ? (await readNpy(file)).value : await readJson(file);
    const seq = parseDwposeSequence(value, file, options);
    expectArray(seq.frames, { file }, 1, 'frame (a folder holds one frame per file)');
    size ??= seq.size;
    frames.push(seq.frames[0]);
  }
  return { size: size!, frames };
}
