// Still images in memory: interleaved 8-bit RGB or RGBA, rows top to bottom. Reading, writing and resizing
// go through sharp (libvips).

import { access } from 'node:fs/promises';
import { extname } from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { writeAtomically } from './atomic.ts';
import { checkImagePixels, LIMITS } from './limits.ts';

export interface Image {
  width: number;
  height: number;
  /** 3 = RGB, 4 = RGBA. */
  channels: 3 | 4;
  /** width * height * channels bytes, interleaved, row-major. */
  data: Uint8Array;
}

export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp'] as const;

export function isImagePath(path: string): boolean {
  return (IMAGE_EXTENSIONS as readonly string[]).includes(extname(path).toLowerCase());
}

export function createImage(width: number, height: number, channels: 3 | 4 = 3): Image {
  return { width, height, channels, data: new Uint8Array(width * height * channels) };
}

export interface ReadImageOptions {
  /** Force RGB (drop alpha) or RGBA (add opaque alpha). Default: RGBA if the file has alpha, else RGB. */
  channels?: 3 | 4;
}

/** Reads a png/jpg/webp file, applying its EXIF orientation. Grey images come back as RGB. */
export async function readImage(path: string, options: ReadImageOptions = {}): Promise<Image> {
  try {
    await access(path);
  } catch {
    throw new Error(`cannot read image ${path}: file not found`);
  }
  let meta: Awaited<ReturnType<Sharp['metadata']>>;
  try {
    meta = await sharp(path).metadata();
  } catch (err) {
    throw new Error(`cannot read image ${path}: ${(err as Error).message}`);
  }
  // from the header, before a byte is decoded (the decoder enforces the same cap on what it finds)
  if (meta.width !== undefined && meta.height !== undefined) checkImagePixels(`image ${path}`, meta.width, meta.height);
  try {
    const input = sharp(path, { limitInputPixels: LIMITS.imagePixels });
    const channels = options.channels ?? (meta.hasAlpha ? 4 : 3);
    let pipeline = input.autoOrient().toColourspace('srgb');
    pipeline = channels === 4 ? pipeline.ensureAlpha() : pipeline.removeAlpha();
    const { data, info } = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    return { width: info.width, height: info.height, channels, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
  } catch (err) {
    throw new Error(`cannot read image ${path}: ${(err as Error).message}`);
  }
}

function checkImage(image: Image): void {
  const { width, height, channels, data } = image;
  if (!(width > 0 && height > 0 && (channels === 3 || channels === 4) && data.length === width * height * channels)) {
    throw new Error(`invalid image: ${width}x${height}x${channels} with ${data.length} bytes`);
  }
}

function toSharp(image: Image): Sharp {
  checkImage(image);
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: image.channels } });
}

export interface WriteImageOptions {
  /** JPEG/WebP quality, 1-100. Default 95. */
  quality?: number;
}

/** Writes png, jpg/jpeg or webp (chosen by extension) atomically. JPEG drops alpha. */
export async function writeImage(path: string, image: Image, options: WriteImageOptions = {}): Promise<void> {
  const quality = options.quality ?? 95;
  const ext = extname(path).toLowerCase();
  let pipeline = toSharp(image);
  if (ext === '.png') pipeline = pipeline.png();
  else if (ext === '.jpg' || ext === '.jpeg') pipeline = pipeline.removeAlpha().jpeg({ quality });
  else if (ext === '.webp') pipeline = pipeline.webp({ quality });
  else throw new Error(`cannot write image ${path}: unsupported extension '${ext}' (use .png, .jpg or .webp)`);
  await writeAtomically(path, async (temp) => {
    await pipeline.toFile(temp);
  });
}

export interface ResizeOptions {
  /**
   * How to meet the target size: 'fill' stretches, 'cover' crops the centre, 'contain' letterboxes with
   * `background`. Default 'fill'.
   */
  fit?: 'fill' | 'cover' | 'contain';
  /** Letterbox colour for 'contain', RGB(A) 0-255. Default black. */
  background?: [number, number, number] | [number, number, number, number];
  /** Resampling kernel. Default 'lanczos3'; 'linear' is closer to what PyTorch pipelines use. */
  kernel?: 'nearest' | 'linear' | 'cubic' | 'lanczos3';
}

/** Resizes to exactly `width` x `height`. */
export async function resizeImage(image: Image, width: number, height: number, options: ResizeOptions = {}): Promise<Image> {
  if (image.width === width && image.height === height) return { ...image, data: image.data.slice() };
  const [r, g, b, a = 255] = options.background ?? [0, 0, 0];
  const { data, info } = await toSharp(image)
    .resize(width, height, {
      fit: options.fit ?? 'fill',
      kernel: options.kernel ?? 'lanczos3',
      background: { r, g, b, alpha: a / 255 },
    })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, channels: image.channels, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}

/** Width and height that fit inside `maxWidth` x `maxHeight` keeping the aspect ratio, rounded to `multiple`. */
export function fitSize(width: number, height: number, maxWidth: number, maxHeight: number, multiple = 1): [number, number] {
  const scale = Math.min(maxWidth / width, maxHeight / height);
  const round = (v: number) => Math.max(multiple, Math.round(v / multiple) * multiple);
  return [round(width * scale), round(height * scale)];
}

/** The image as RGB: itself when it is, else a copy without the alpha channel. */
export function toRgb(image: Image): Image {
  if (image.channels === 3) return image;
  const n = image.width * image.height;
  const data = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    data[3 * i] = image.data[4 * i]!;
    data[3 * i + 1] = image.data[4 * i + 1]!;
    data[3 * i + 2] = image.data[4 * i + 2]!;
  }
  return { width: image.width, height: image.height, channels: 3, data };
}
