// Video files through Debian's ffmpeg: probe, decode to RGB frames through a pipe, encode H.264 mp4 or gif
// from RGB frames through a pipe. Frames are `Image`s (8-bit RGB, or RGBA when encoding).

import { access, stat } from 'node:fs/promises';
import { extname } from 'node:path';
import type { Writable } from 'node:stream';
import { writeAtomically } from './atomic.ts';
import { describeExit, runMediaTool, startMediaTool, type ToolExit } from './ffmpeg.ts';
import { readFrameFolder, requestedSize, type FrameProgress } from './frame-folder.ts';
import type { Image } from './image.ts';

// swscale's default yuv<->rgb path rounds with a bias of about -1 per channel; these flags make a
// lossless encode/decode round trip unbiased.
const SWS_FLAGS = 'bicubic+accurate_rnd+full_chroma_int';

export interface VideoInfo {
  /** Display size: already swapped for a 90/270 degree rotation, as ffmpeg decodes it. */
  width: number;
  height: number;
  /** Average frame rate. */
  fps: number;
  frameCount: number;
  durationSeconds: number;
  codec: string;
}

async function checkReadable(path: string, what: string): Promise<void> {
  try {
    await access(path);
  } catch {
    throw new Error(`cannot ${what} ${path}: file not found`);
  }
}

function parseRate(rate: string | undefined): number {
  if (!rate) return NaN;
  const [num, den = '1'] = rate.split('/');
  return Number(num) / Number(den);
}

/** Reads size, frame rate and frame count with ffprobe (counting packets when the container has no count). */
export async function probeVideo(path: string): Promise<VideoInfo> {
  await checkReadable(path, 'probe video');
  const context = `cannot probe video ${path}`;
  const common = ['-v', 'error', '-select_streams', 'v:0', '-of', 'json'];
  const entries = 'stream=codec_name,width,height,avg_frame_rate,r_frame_rate,nb_frames,duration:stream_side_data=rotation:format=duration';
  const out = JSON.parse((await runMediaTool('ffprobe', [...common, '-show_entries', entries, path], context)).toString());
  const stream = out.streams?.[0];
  if (!stream) throw new Error(`${context}: no video stream`);
  let frameCount = Number(stream.nb_frames);
  if (!Number.isFinite(frameCount) || frameCount <= 0) {
    const counted = JSON.parse(
      (await runMediaTool('ffprobe', [...common, '-count_packets', '-show_entries', 'stream=nb_read_packets', path], context)).toString(),
    );
    frameCount = Number(counted.streams?.[0]?.nb_read_packets);
  }
  let fps = parseRate(stream.avg_frame_rate);
  if (!(fps > 0)) fps = parseRate(stream.r_frame_rate);
  const rotation = Number(stream.side_data_list?.find((d: { rotation?: number }) => d.rotation !== undefined)?.rotation ?? 0);
  const quarterTurn = Math.abs(rotation) % 180 === 90;
  return {
    width: quarterTurn ? stream.height : stream.width,
    height: quarterTurn ? stream.width : stream.height,
    fps,
    frameCount,
    durationSeconds: Number(stream.duration ?? out.format?.duration ?? frameCount / fps),
    codec: stream.codec_name,
  };
}

/** Whether the file has an audio stream. */
export async function hasAudio(path: string): Promise<boolean> {
  await checkReadable(path, 'probe audio of');
  const args = ['-v', 'error', '-select_streams', 'a', '-show_entries', 'stream=index', '-of', 'json', path];
  const out = JSON.parse((await runMediaTool('ffprobe', args, `cannot probe audio of ${path}`)).toString());
  return (out.streams?.length ?? 0) > 0;
}

export interface DecodeOptions {
  /** Output size (both, or one with the other following the aspect ratio). Default: the video's size. */
  width?: number;
  height?: number;
  /** Resample to this frame rate (ffmpeg's fps filter drops or repeats frames). Video files only. */
  fps?: number;
  /** Stop after this many frames. */
  maxFrames?: number;
  /** Only these source frames (ascending indices, io/frame-rate.ts), after `fps`. Video files only. */
  indices?: readonly number[];
  onProgress?: (progress: FrameProgress) => void;
  /** Warnings (a video that decodes to fewer frames than its container lists); default: printed to stderr. */
  onNotice?: (message: string) => void;
}

/** Decodes a video or gif file to RGB frames, streamed from ffmpeg as rawvideo rgb24. */
export async function* decodeVideo(path: string, options: DecodeOptions = {}): AsyncGenerator<Image> {
  const info = await probeVideo(path);
  const [width, height] = requestedSize(info.width, info.height, options);
  const filters: string[] = [];
  if (options.fps) filters.push(`fps=${options.fps}`);
  if (width !== info.width || height !== info.height) filters.push(`scale=${width}:${height}`);
  const args = ['-v', 'error', '-nostdin', '-i', path, '-an', '-sn', '-sws_flags', SWS_FLAGS];
  if (filters.length > 0) args.push('-vf', filters.join(','));
  const keep = options.indices && new Set(options.indices);
  // decoding stops after the last frame wanted
  const lastFrame = options.indices ? (options.indices.at(-1) ?? -1) + 1 : options.maxFrames;
  if (lastFrame !== undefined) args.push('-frames:v', String(lastFrame));
  args.push('-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1');

  let listed = options.fps ? Math.round((info.frameCount * options.fps) / info.fps) : info.frameCount;
  if (lastFrame !== undefined) listed = Math.min(listed, lastFrame);
  const total = keep ? options.indices!.filter((i) => i < listed).length : listed;

  const proc = startMediaTool('ffmpeg', args);
  const frameBytes = width * height * 3;
  let frame = new Uint8Array(frameBytes);
  let filled = 0;
  let frames = 0; // decoded
  let kept = 0;
  let finished = false;
  try {
    for await (const chunk of proc.child.stdout! as AsyncIterable<Buffer>) {
      let offset = 0;
      while (offset < chunk.length) {
        const n = Math.min(chunk.length - offset, frameBytes - filled);
        frame.set(chunk.subarray(offset, offset + n), filled);
        filled += n;
        offset += n;
        if (filled === frameBytes) {
          frames += 1;
          filled = 0;
          if (keep && !keep.has(frames - 1)) continue;
          kept += 1;
          options.onProgress?.({ frames: kept, total });
          yield { width, height, channels: 3, data: frame };
          frame = new Uint8Array(frameBytes);
        }
      }
    }
    const exit = await proc.exited;
    finished = true;
    if (exit.code !== 0) throw new Error(`cannot decode video ${path}: ffmpeg ${describeExit(exit)}`);
    if (filled !== 0) throw new Error(`cannot decode video ${path}: ffmpeg stopped in the middle of frame ${frames}`);
    // a truncated file whose index is at the front decodes without an error, to fewer frames than it lists
    if (frames < listed - 1) {
      (options.onNotice ?? ((m: string) => console.error(`warning: ${m}`)))(
        `${path}: decoded ${frames} frame(s) where its container lists ${listed}; the file is probably truncated`);
    }
  } finally {
    // The consumer stopped early (or an error): stop ffmpeg instead of letting it write into a dead pipe.
    if (!finished) {
      proc.child.kill();
      await proc.exited.catch(() => undefined);
    }
  }
}

/** Frames from a video file, a gif, or a folder of images (natural order). `fps` applies to files only. */
export async function* decodeFrames(source: string, options: DecodeOptions = {}): AsyncGenerator<Image> {
  let isFolder: boolean;
  try {
    isFolder = (await stat(source)).isDirectory();
  } catch {
    throw new Error(`cannot decode frames from ${source}: not found`);
  }
  yield* isFolder ? readFrameFolder(source, options) : decodeVideo(source, options);
}

export interface EncodeOptions {
  fps: number;
  /** H.264 quality, 0 (lossless) to 51; default 18 (visually lossless). mp4 only. */
  crf?: number;
  /** x264 preset; default 'medium'. mp4 only. */
  preset?: 'ultrafast' | 'superfast' | 'veryfast' | 'faster' | 'fast' | 'medium' | 'slow' | 'slower' | 'veryslow';
  /**
   * H.264 yuv420p needs even width and height. 'pad' (default) adds one black column/row where needed;
   * 'error' refuses odd sizes. mp4 only.
   */
  oddSize?: 'pad' | 'error';
  /** Expected number of frames, for progress reports (known already when `frames` is an array). */
  totalFrames?: number;
  /** The audio of this file's first audio stream, from its start, cut to `seconds` (AAC; mp4 only). */
  audio?: AudioSource;
  onProgress?: (progress: FrameProgress) => void;
}

export interface AudioSource {
  path: string;
  /** The length to keep, in seconds: the animation's duration. */
  seconds: number;
}

export interface EncodeResult {
  frames: number;
  /** Size of the written video (after padding). */
  width: number;
  height: number;
}

function outputArgs(path: string, width: number, height: number, options: EncodeOptions): { args: string[]; size: [number, number] } {
  const ext = extname(path).toLowerCase();
  if (ext === '.gif') {
    // One pass: a palette from all frames, then dithered onto it; loop forever.
    return { args: ['-vf', 'split[a][b];[a]palettegen[p];[b][p]paletteuse', '-loop', '0', '-f', 'gif'], size: [width, height] };
  }
  if (ext !== '.mp4') throw new Error(`cannot encode ${path}: unsupported extension '${ext}' (use .mp4 or .gif)`);
  const odd = width % 2 !== 0 || height % 2 !== 0;
  if (odd && (options.oddSize ?? 'pad') === 'error') {
    throw new Error(`cannot encode ${path}: H.264 yuv420p needs even width and height, got ${width}x${height}`);
  }
  const size: [number, number] = [width + (width % 2), height + (height % 2)];
  // Convert with the BT.709 matrix and tag the stream so players and our decoder undo the same matrix.
  const filters = [...(odd ? [`pad=${size[0]}:${size[1]}`] : []), 'scale=out_color_matrix=bt709:out_range=tv', 'format=yuv420p'];
  return {
    args: [
      '-vf', filters.join(','),
      '-c:v', 'libx264', '-preset', options.preset ?? 'medium', '-crf', String(options.crf ?? 18),
      '-colorspace', 'bt709', '-color_primaries', 'bt709', '-color_trc', 'bt709', '-color_range', 'tv',
      '-movflags', '+faststart', '-f', 'mp4',
    ],
    size,
  };
}

/** The audio input and its mapping (after the frames' input), or none. */
function audioArgs(path: string, audio: AudioSource | undefined): string[] {
  if (!audio) return ['-an'];
  if (extname(path).toLowerCase() !== '.mp4') throw new Error(`cannot encode ${path}: audio needs an .mp4 output`);
  if (!(audio.seconds > 0)) throw new Error(`cannot encode ${path}: the audio length must be positive, got ${audio.seconds}`);
  return ['-t', String(audio.seconds), '-i', audio.path, '-map', '0:v:0', '-map', '1:a:0', '-c:a', 'aac', '-b:a', '160k'];
}

/** Waits until `stdin` can take more data, or the process has exited (then writing is pointless). */
function drainOrExit(stdin: Writable, exited: Promise<ToolExit>): Promise<unknown> {
  let onDrain!: () => void;
  const drained = new Promise<void>((resolve) => {
    onDrain = resolve;
    stdin.once('drain', onDrain);
  });
  return Promise.race([drained, exited]).finally(() => stdin.off('drain', onDrain));
}

/**
 * Encodes frames (all one size, RGB or RGBA) to an H.264 yuv420p .mp4 or a .gif, written atomically:
 * on any failure, including a bad frame from the caller, no file is left at `path`.
 */
export async function encodeVideo(
  path: string,
  frames: Iterable<Image> | AsyncIterable<Image>,
  options: EncodeOptions,
): Promise<EncodeResult> {
  if (!(options.fps > 0)) throw new Error(`cannot encode ${path}: fps must be positive, got ${options.fps}`);
  const total = options.totalFrames ?? (Array.isArray(frames) ? frames.length : undefined);
  const iterator = Symbol.asyncIterator in frames ? frames[Symbol.asyncIterator]() : (frames as Iterable<Image>)[Symbol.iterator]();
  const first = await iterator.next();
  if (first.done) throw new Error(`cannot encode ${path}: no frames`);
  const { width, height, channels } = first.value;
  const { args: outArgs, size } = outputArgs(path, width, height, options);

  return writeAtomically(path, async (temp) => {
    const proc = startMediaTool('ffmpeg', [
      '-v', 'error', '-nostdin', '-y',
      '-f', 'rawvideo', '-pix_fmt', channels === 4 ? 'rgba' : 'rgb24', '-s', `${width}x${height}`, '-framerate', String(options.fps),
      '-i', 'pipe:0', ...audioArgs(path, options.audio), '-sws_flags', SWS_FLAGS, ...outArgs, temp,
    ]);
    const stdin = proc.child.stdin!;
    let exitedEarly = false;
    proc.exited.then(() => (exitedEarly = true), () => (exitedEarly = true));
    let count = 0;
    try {
      for (let next: IteratorResult<Image> = first; !next.done && !exitedEarly; next = await iterator.next()) {
        const frame = next.value;
        if (frame.width !== width || frame.height !== height || frame.channels !== channels || frame.data.length !== width * height * channels) {
          throw new Error(
            `cannot encode ${path}: frame ${count} is ${frame.width}x${frame.height}x${frame.channels}, ` +
              `expected ${width}x${height}x${channels} like the first frame`,
          );
        }
        if (!stdin.write(frame.data)) await drainOrExit(stdin, proc.exited);
        count += 1;
        options.onProgress?.({ frames: count, total });
      }
    } catch (err) {
      proc.child.kill('SIGKILL');
      await proc.exited.catch(() => undefined);
      throw err;
    }
    stdin.end();
    const exit = await proc.exited;
    if (exit.code !== 0) throw new Error(`cannot encode ${path}: ffmpeg ${describeExit(exit)}`);
    return { frames: count, width: size[0], height: size[1] };
  });
}
