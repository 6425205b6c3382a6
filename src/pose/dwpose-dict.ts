// One frame of DWPose keypoints, as the tools of our field hand it over, to our PoseFrame. Two key layouts:
//   - draw_pose's dict (DWposeDetector.__call__; MusePose, MimicMotion, StableAnimator):
//       bodies: { candidate (18N, 2), subset (N, 18), score? (N, 18) }, hands (2N, 21, 2), hands_score? (2N, 21),
//       faces (N, 68, 2), faces_score? (N, 68); the body arrays may also sit at the top level;
//   - the per-frame dump: body_candidate_18x2, body_subset, body_score?, hands_2x21x2, hands_score?,
//       faces_1x68x2, faces_score?.
// N persons; the hands are every person's left hand, then every right hand. Coordinates are normalised by the
// frame's width and height. subset[p][j] is the candidate row of joint j, or -1 where the detector's score was
// <= 0.3: such a joint gets score 0. The score fields are optional (MusePose writes none): without them a listed
// joint has score 1, and a hand or face point has score 1 unless it is (-1, -1), the mark MusePose's detector
// leaves on points below its threshold. hands and faces may be absent (their points then have score 0).

import { NUM_BODY, NUM_FACE, NUM_HAND, type Keypoint, type PersonPose, type PoseFrame } from './keypoints.ts';
import { describe, expectArray, expectNumber, isRecord, PoseFileError, type PoseFileLocation } from './pose-file-check.ts';

/** draw_pose's dict with numpy arrays as nested lists (the type of the fixtures; the parser takes any value). */
export interface DwposeDict {
  bodies?: { candidate: number[][]; subset: number[][]; score?: number[][] };
  candidate?: number[][];
  subset?: number[][];
  score?: number[][];
  hands?: number[][][];
  hands_score?: number[][];
  faces?: number[][][];
  faces_score?: number[][];
}

interface Keys {
  candidate: string;
  subset: string;
  score: string;
  hands: string;
  faces: string;
}

const DICT: Keys = { candidate: 'candidate', subset: 'subset', score: 'score', hands: 'hands', faces: 'faces' };
const DUMP: Keys = { candidate: 'body_candidate_18x2', subset: 'body_subset', score: 'body_score', hands: 'hands_2x21x2', faces: 'faces_1x68x2' };

/** True for a frame in the dump layout (body_candidate_18x2, ...). */
export function isDwposeDump(value: unknown): boolean {
  return isRecord(value) && DUMP.candidate in value;
}

/** True for a frame in draw_pose's layout (bodies: {candidate, subset}, or candidate and subset at the top). */
export function isDwposeDict(value: unknown): boolean {
  return isRecord(value) && ('bodies' in value || (DICT.candidate in value && DICT.subset in value));
}

/** A DWPose frame (either layout) as a PoseFrame; errors name `where`'s file and frame, the person and the field. */
export function parseDwposeFrame(value: unknown, where: PoseFileLocation): PoseFrame {
  if (!isRecord(value)) throw new PoseFileError(where, `expected a DWPose dict, found ${describe(value)}`);
  const keys = isDwposeDump(value) ? DUMP : DICT;
  let bodies = value;
  let prefix = '';
  if (keys === DICT && value.bodies !== undefined) {
    if (!isRecord(value.bodies)) throw new PoseFileError({ ...where, field: 'bodies' }, `expected a dict {candidate, subset}, found ${describe(value.bodies)}`);
    bodies = value.bodies;
    prefix = 'bodies.';
  }
  const at = (field: string, person?: number): PoseFileLocation => ({ ...where, person, field });
  const subset = expectArray(bodies[keys.subset], at(prefix + keys.subset), undefined, 'rows (one per person)');
  const n = subset.length;
  const candidate = expectArray(bodies[keys.candidate], at(prefix + keys.candidate), NUM_BODY * n, `rows (18 per person, ${n} person(s))`);
  const bodyScore = optionalArray(bodies[keys.score], at(prefix + keys.score), n, 'rows (one per person)');
  const hands = optionalArray(value[keys.hands], at(keys.hands), 2 * n, 'hands (two per person)');
  const handScore = optionalArray(value.hands_score, at('hands_score'), 2 * n, 'rows (two per person)');
  const faces = optionalArray(value[keys.faces], at(keys.faces), n, 'faces (one per person)');
  const faceScore = optionalArray(value.faces_score, at('faces_score'), n, 'rows (one per person)');

  const persons: PersonPose[] = [];
  for (let p = 0; p < n; p++) {
    const field = (name: string, i: number) => at(`${name}[${i}]`, p);
    const sub = expectArray(subset[p], field(prefix + keys.subset, p), NUM_BODY, 'entries');
    const scores = bodyScore && expectArray(bodyScore[p], field(prefix + keys.score, p), NUM_BODY, 'scores');
    const body = Array.from({ length: NUM_BODY }, (_, j): Keypoint => {
      const index = expectNumber(sub[j], at(`${prefix}${keys.subset}[${p}][${j}]`, p));
      if (index >= 0 && !(Number.isInteger(index) && index < candidate.length)) {
        throw new PoseFileError(at(`${prefix}${keys.subset}[${p}][${j}]`, p), `expected a row of ${prefix}${keys.candidate} (0 to ${candidate.length - 1}) or -1, found ${index}`);
      }
      const row = index >= 0 ? index : NUM_BODY * p + j;
      const [x, y] = readXy(candidate[row], field(prefix + keys.candidate, row));
      if (index < 0) return [x, y, 0];
      return [x, y, scores ? expectNumber(scores[j], at(`${prefix}${keys.score}[${p}][${j}]`, p)) : 1];
    });
    const part = (points: unknown[] | undefined, pointScores: unknown[] | undefined, name: string, scoreName: string, i: number, count: number) =>
      points ? readPoints(points[i], pointScores?.[i], count, field(name, i), field(scoreName, i), pointScores !== undefined) : missing(count);
    persons.push({
      body,
      hands: [
        part(hands, handScore, keys.hands, 'hands_score', p, NUM_HAND),
        part(hands, handScore, keys.hands, 'hands_score', n + p, NUM_HAND),
      ],
      face: part(faces, faceScore, keys.faces, 'faces_score', p, NUM_FACE),
    });
  }
  return { persons };
}

/**
 * The draw_pose dict DWPose's detector returns (with arrays as nested lists) as a PoseFrame. Throws a
 * PoseFileError naming `file` where the dict is malformed.
 */
export function poseFrameFromDwposeDict(dict: unknown, file = '<DWPose dict>'): PoseFrame {
  return parseDwposeFrame(dict, { file });
}

function optionalArray(value: unknown, where: PoseFileLocation, length: number, what: string): unknown[] | undefined {
  return value === undefined ? undefined : expectArray(value, where, length, what);
}

function readXy(value: unknown, where: PoseFileLocation): [number, number] {
  const pair = expectArray(value, where, 2, 'numbers [x, y]');
  return [expectNumber(pair[0], where), expectNumber(pair[1], where)];
}

function readPoints(points: unknown, scores: unknown, count: number, where: PoseFileLocation, scoreWhere: PoseFileLocation, scored: boolean): Keypoint[] {
  const xy = expectArray(points, where, count, 'keypoints');
  const s = scored ? expectArray(scores, scoreWhere, count, 'scores') : undefined;
  return xy.map((pt, i): Keypoint => {
    const [x, y] = readXy(pt, { ...where, field: `${where.field}[${i}]` });
    if (s) return [x, y, expectNumber(s[i], { ...scoreWhere, field: `${scoreWhere.field}[${i}]` })];
    return [x, y, x === -1 && y === -1 ? 0 : 1];
  });
}

function missing(count: number): Keypoint[] {
  return Array.from({ length: count }, (): Keypoint => [0, 0, 0]);
}
