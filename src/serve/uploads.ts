// Uploaded inputs: a reference photo, a driving video or a keypoint file. Each is streamed to a temporary file
// under <data>/uploads, recognised by its first bytes (never by its name or declared type), checked by decoding
// it (image size, video frame count, keypoint format), then renamed to a generated name: <id>.<ext> beside
// <id>.info.json. A refused upload leaves nothing behind.
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { readImage } from '../io/image.ts';
import { LIMITS } from '../io/limits.ts';
import { probeVideo } from '../io/video.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { readPoseFile } from '../pose/keypoint-json.ts';
import type { ServeLimits } from './job-options.ts';

/** An error the API answers with its HTTP status and message. */
export class HttpError extends Error {
  constructor(readonly statusCode: number, message: string) {
    super(message);
  }
}

export type UploadKind = 'image' | 'video' | 'keypoints';

export interface UploadInfo {
  id: string;
  kind: UploadKind;
  /** Relative to the data folder. */
  file: string;
  /** The name the user gave (shown, never used as a path). */
  name: string;
  bytes: number;
  width?: number;
  height?: number;
  frames?: number;
}

const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** What the first bytes say a file is (magic numbers), or undefined. */
export function sniff(head: Uint8Array): { kind: UploadKind; ext: string } | undefined {
  const ascii = (from: number, to: number) => String.fromCharCode(...head.subarray(from, to));
  if (head[0] === 0x89 && ascii(1, 4) === 'PNG') return { kind: 'image', ext: 'png' };
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return { kind: 'image', ext: 'jpg' };
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return { kind: 'image', ext: 'webp' };
  if (ascii(4, 8) === 'ftyp') return { kind: 'video', ext: 'mp4' };
  if (head[0] === 0x1a && head[1] === 0x45 && head[2] === 0xdf && head[3] === 0xa3) return { kind: 'video', ext: 'webm' };
  if (ascii(0, 4) === 'RIFF' && ascii(8, 11) === 'AVI') return { kind: 'video', ext: 'avi' };
  if (ascii(0, 3) === 'GIF') return { kind: 'video', ext: 'gif' };
  const first = head.find((b) => b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09);
  if (first === 0x7b || first === 0x5b) return { kind: 'keypoints', ext: 'json' };
  return undefined;
}

/** Stores one uploaded file; throws HttpError 413 (too big), 415 (not a known type) or 422 (does not decode). */
export async function storeUpload(dataDir: string, stream: Readable & { truncated?: boolean }, name: string, limits: ServeLimits): Promise<UploadInfo> {
  const dir = join(dataDir, 'uploads');
  await mkdir(dir, { recursive: true });
  const id = randomUUID();
  const temp = join(dir, `.${id}.part`);
  const shown = name.replace(/[^\w. -]/g, '_').slice(0, 100) || 'upload';
  let final: string | undefined;
  try {
    await pipeline(stream, createWriteStream(temp));
    if (stream.truncated) throw new HttpError(413, `${shown}: larger than the upload limit of ${(limits.uploadBytes / 1e6).toFixed(1)} MB`);
    const handle = await open(temp);
    const head = new Uint8Array(16);
    const { bytesRead } = await handle.read(head, 0, 16, 0);
    const { size } = await handle.stat();
    await handle.close();
    if (bytesRead === 0) throw new HttpError(422, `${shown}: the file is empty`);
    const type = sniff(head.subarray(0, bytesRead));
    if (!type) throw new HttpError(415, `${shown}: not an image (PNG, JPEG, WebP), a video (MP4, WebM, AVI, GIF) or a keypoint JSON file, judging by its content`);
    final = join(dir, `${id}.${type.ext}`);
    await rename(temp, final);
    const facts = await inspect(final, type.kind, limits, (m) => m.replaceAll(final!, shown));
    const info: UploadInfo = { id, kind: type.kind, file: `uploads/${id}.${type.ext}`, name: shown, bytes: size, ...facts };
    await writeFileAtomic(join(dir, `${id}.info.json`), JSON.stringify(info));
    return info;
  } catch (e) {
    await rm(temp, { force: true });
    if (final) await rm(final, { force: true });
    throw e;
  }
}

/** Decodes enough of the file to know it is what it claims and within the limits. */
async function inspect(path: string, kind: UploadKind, limits: ServeLimits, clean: (m: string) => string): Promise<Partial<UploadInfo>> {
  const refuse = (status: number, e: unknown): never => { throw new HttpError(status, clean(e instanceof Error ? e.message : String(e))); };
  if (kind === 'image') {
    const image = await readImage(path, { channels: 3 }).catch((e) => refuse(422, e));
    const side = Math.min(image.width, image.height);
    if (side < LIMITS.minReferenceSide) refuse(422, `${path}: ${image.width}x${image.height} is too small; expected at least ${LIMITS.minReferenceSide} pixels a side`);
    return { width: image.width, height: image.height };
  }
  let frames: number, width: number, height: number;
  if (kind === 'video') {
    const v = await probeVideo(path).catch((e) => refuse(422, e));
    [frames, width, height] = [v.frameCount, v.width, v.height];
  } else {
    const seq = await readPoseFile(path).catch((e) => refuse(422, e));
    [frames, width, height] = [seq.frames.length, seq.size[0], seq.size[1]];
  }
  if (frames > limits.frames) refuse(413, `${path}: ${frames} frames, above the limit of ${limits.frames}`);
  if (frames === 0) refuse(422, `${path}: no frames`);
  return { frames, width, height };
}

/** The upload with this id; 400 for an id of the wrong form, 404 for an unknown one. */
export async function findUpload(dataDir: string, id: unknown, what: string): Promise<UploadInfo> {
  if (typeof id !== 'string' || !ID.test(id)) throw new HttpError(400, `${what}: expected an upload id (from POST /api/uploads), got ${JSON.stringify(id)}`);
  try {
    return JSON.parse(await readFile(join(dataDir, 'uploads', `${id}.info.json`), 'utf8'));
  } catch {
    throw new HttpError(404, `${what}: no upload ${id}`);
  }
}
