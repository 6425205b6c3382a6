// Validation shared by the pose file readers (our keypoint JSON, DWPose dicts and dumps in JSON or .npy):
// every error names the file, the frame, the person and the field, with what was expected and what was found.

import { readFile } from 'node:fs/promises';
import { LIMITS } from '../io/limits.ts';

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

export function describe(value: unknown): string {
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value === null) return 'null';
  if (value === undefined) return 'nothing (the field is missing)';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

export function expectArray(value: unknown, where: PoseFileLocation, length?: number, what?: string): unknown[] {
  if (!Array.isArray(value)) {
    const of = [length, what].filter((v) => v !== undefined).join(' ');
    throw new PoseFileError(where, `expected an array${of ? ` of ${of}` : ''}, found ${describe(value)}`);
  }
  if (length !== undefined && value.length !== length) {
    throw new PoseFileError(where, `expected ${length} ${what ?? 'entries'}, found ${value.length}`);
  }
  return value;
}

export function expectNumber(value: unknown, where: PoseFileLocation): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new PoseFileError(where, `expected a finite number, found ${describe(value)}`);
  return value;
}

/** A frame size [W, H]: positive and within the frame-side limit, checked before anything is drawn at it. */
export function readSize(value: unknown, where: PoseFileLocation): [number, number] {
  const pair = expectArray(value, where, 2, 'numbers [W, H]');
  const w = expectNumber(pair[0], where);
  const h = expectNumber(pair[1], where);
  if (!(w > 0 && h > 0)) throw new PoseFileError(where, `expected a positive size, found [${w}, ${h}]`);
  if (w > LIMITS.frameSide || h > LIMITS.frameSide) {
    throw new PoseFileError(where, `expected at most ${LIMITS.frameSide} pixels a side, found [${w}, ${h}] (set STABLE_ANIMATOR_MAX_SIDE to raise the limit)`);
  }
  return [w, h];
}

/** An optional frame rate: absent, or a positive number. */
export function readFps(value: unknown, where: PoseFileLocation): number | undefined {
  if (value === undefined) return undefined;
  const fps = expectNumber(value, where);
  if (!(fps > 0)) throw new PoseFileError(where, `expected a positive number, found ${fps}`);
  return fps;
}

export async function readJson(path: string): Promise<unknown> {
  const text = await readFile(path, 'utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new PoseFileError({ file: path }, `not valid JSON (${(err as Error).message})`);
  }
}
