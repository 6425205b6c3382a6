// Side-by-side comparison frames: columns of equally long frame sequences (a single still is held for every
// frame), each under a label, scaled to one height. What the demo and ablation videos are made of.
import { Canvas, textWidth, type Rgb } from './plot.ts';
import type { Image } from './image.ts';

export interface Panel {
  label: string;
  /** One image per output frame, or one image shown on every frame. */
  frames: readonly Image[];
}

export interface SideBySideOptions {
  /** Height of every panel's picture in pixels; default the tallest input. Pictures are resized (nearest). */
  height?: number;
  /** Font dot size of the labels; default 2. */
  labelScale?: number;
  gap?: number;
  background?: Rgb;
}

function pixel(img: Image, x: number, y: number): Rgb {
  const i = (y * img.width + x) * img.channels;
  return [img.data[i]!, img.data[i + 1]!, img.data[i + 2]!];
}

export function sideBySide(panels: readonly Panel[], opts: SideBySideOptions = {}): Image[] {
  if (panels.length === 0) throw new Error('sideBySide: no panels');
  const lengths = panels.map((p) => p.frames.length);
  const n = Math.max(...lengths);
  panels.forEach((p) => {
    if (p.frames.length !== 1 && p.frames.length !== n) {
      throw new Error(`sideBySide: panel '${p.label}' has ${p.frames.length} frames, expected 1 or ${n}`);
    }
  });
  const scale = opts.labelScale ?? 2;
  const gap = opts.gap ?? 4;
  const height = opts.height ?? Math.max(...panels.map((p) => p.frames[0]!.height));
  const widths = panels.map((p) => {
    const f = p.frames[0]!;
    return Math.max(Math.round((f.width * height) / f.height), textWidth(p.label, scale) + 2 * scale);
  });
  const labelHeight = 7 * scale + 2 * gap;
  const total = widths.reduce((a, b) => a + b, 0) + gap * (panels.length + 1);
  const out: Image[] = [];
  for (let t = 0; t < n; t++) {
    const c = new Canvas(total + (total % 2), height + labelHeight + gap + ((height + labelHeight + gap) % 2), opts.background ?? [255, 255, 255]);
    let x0 = gap;
    panels.forEach((p, k) => {
      const img = p.frames.length === 1 ? p.frames[0]! : p.frames[t]!;
      const w = Math.round((img.width * height) / img.height);
      const left = x0 + Math.floor((widths[k]! - w) / 2);
      for (let y = 0; y < height; y++) {
        const sy = Math.min(img.height - 1, Math.floor(((y + 0.5) * img.height) / height));
        for (let x = 0; x < w; x++) {
          c.setPixel(left + x, labelHeight + y, pixel(img, Math.min(img.width - 1, Math.floor(((x + 0.5) * img.width) / w)), sy));
        }
      }
      c.text(x0 + Math.floor((widths[k]! - textWidth(p.label, scale)) / 2), gap, p.label, [0, 0, 0], scale);
      x0 += widths[k]! + gap;
    });
    out.push(c.image);
  }
  return out;
}

/** Images of one width stacked top to bottom (a still of several side-by-side frames). */
export function stackRows(rows: readonly Image[]): Image {
  const width = rows[0]!.width;
  const bad = rows.find((r) => r.width !== width || r.channels !== 3);
  if (bad) throw new Error(`stackRows: every row must be RGB and ${width} wide, got ${bad.width} wide with ${bad.channels} channels`);
  const data = new Uint8Array(rows.reduce((n, r) => n + r.data.length, 0));
  let offset = 0;
  for (const r of rows) {
    data.set(r.data, offset);
    offset += r.data.length;
  }
  return { width, height: data.length / (width * 3), channels: 3, data };
}
