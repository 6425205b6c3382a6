// A small plot rasteriser for training curves and error distributions: line plots (linear or log y) and
// histograms, drawn into an 8-bit RGB image with axes, "nice" ticks, tick labels, a title and a legend in a
// built-in 5x7 bitmap font. No dependency beyond src/io/image.ts, which writes the PNG.

import { createImage, writeImage } from './image.ts';
import type { Image } from './image.ts';

export type Rgb = readonly [number, number, number];

/** Distinct colours for series, in order (colour-blind friendly, after Okabe and Ito). */
export const PALETTE: readonly Rgb[] = [
  [0, 114, 178], [213, 94, 0], [0, 158, 115], [204, 121, 167], [230, 159, 0], [86, 180, 233], [0, 0, 0], [240, 228, 66],
];

// ---------------------------------------------------------------------------------------------------------------
// Canvas

export class Canvas {
  readonly image: Image;
  constructor(readonly width: number, readonly height: number, background: Rgb = [255, 255, 255]) {
    if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
      throw new Error(`Canvas: size must be positive integers, got ${width}x${height}`);
    }
    this.image = createImage(width, height, 3);
    this.fillRect(0, 0, width, height, background);
  }

  setPixel(x: number, y: number, c: Rgb): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const i = (y * this.width + x) * 3;
    this.image.data[i] = c[0];
    this.image.data[i + 1] = c[1];
    this.image.data[i + 2] = c[2];
  }

  fillRect(x: number, y: number, w: number, h: number, c: Rgb): void {
    for (let yy = Math.max(0, Math.round(y)); yy < Math.min(this.height, Math.round(y + h)); yy++) {
      for (let xx = Math.max(0, Math.round(x)); xx < Math.min(this.width, Math.round(x + w)); xx++) this.setPixel(xx, yy, c);
    }
  }

  /** A line of the given thickness (a square brush stepped along the segment). */
  line(x0: number, y0: number, x1: number, y1: number, c: Rgb, thickness = 1): void {
    const steps = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))));
    const r = (thickness - 1) / 2;
    for (let i = 0; i <= steps; i++) {
      const x = x0 + ((x1 - x0) * i) / steps;
      const y = y0 + ((y1 - y0) * i) / steps;
      if (thickness <= 1) this.setPixel(x, y, c);
      else this.fillRect(x - r, y - r, thickness, thickness, c);
    }
  }

  /** Text in the 5x7 font; `scale` pixels per font dot; returns the width drawn. */
  text(x: number, y: number, s: string, c: Rgb, scale = 1): number {
    let cx = Math.round(x);
    for (const ch of s) {
      const glyph = glyphOf(ch);
      for (let row = 0; row < 7; row++) {
        for (let col = 0; col < 5; col++) {
          if (glyph[row]! & (1 << (4 - col))) this.fillRect(cx + col * scale, y + row * scale, scale, scale, c);
        }
      }
      cx += 6 * scale;
    }
    return cx - Math.round(x);
  }

  /** Text rotated a quarter turn counter-clockwise (for a y-axis label), its baseline on the left. */
  textVertical(x: number, y: number, s: string, c: Rgb, scale = 1): void {
    let cy = Math.round(y);
    for (const ch of s) {
      const glyph = glyphOf(ch);
      for (let row = 0; row < 7; row++) {
        for (let col = 0; col < 5; col++) {
          if (glyph[row]! & (1 << (4 - col))) this.fillRect(x + row * scale, cy - col * scale, scale, scale, c);
        }
      }
      cy -= 6 * scale;
    }
  }
}

export function textWidth(s: string, scale = 1): number {
  return [...s].length * 6 * scale;
}

// ---------------------------------------------------------------------------------------------------------------
// Font: 5x7 glyphs, one 5-bit row each (high bit = left). Lower-case letters are drawn as capitals.

const FONT_ROWS: Record<string, string> = {
  '0': '01110 10001 10011 10101 11001 10001 01110', '1': '00100 01100 00100 00100 00100 00100 01110',
  '2': '01110 10001 00001 00010 00100 01000 11111', '3': '11111 00010 00100 00010 00001 10001 01110',
  '4': '00010 00110 01010 10010 11111 00010 00010', '5': '11111 10000 11110 00001 00001 10001 01110',
  '6': '00110 01000 10000 11110 10001 10001 01110', '7': '11111 00001 00010 00100 01000 01000 01000',
  '8': '01110 10001 10001 01110 10001 10001 01110', '9': '01110 10001 10001 01111 00001 00010 01100',
  A: '01110 10001 10001 11111 10001 10001 10001', B: '11110 10001 10001 11110 10001 10001 11110',
  C: '01110 10001 10000 10000 10000 10001 01110', D: '11100 10010 10001 10001 10001 10010 11100',
  E: '11111 10000 10000 11110 10000 10000 11111', F: '11111 10000 10000 11110 10000 10000 10000',
  G: '01110 10001 10000 10111 10001 10001 01111', H: '10001 10001 10001 11111 10001 10001 10001',
  I: '01110 00100 00100 00100 00100 00100 01110', J: '00111 00010 00010 00010 00010 10010 01100',
  K: '10001 10010 10100 11000 10100 10010 10001', L: '10000 10000 10000 10000 10000 10000 11111',
  M: '10001 11011 10101 10101 10001 10001 10001', N: '10001 10001 11001 10101 10011 10001 10001',
  O: '01110 10001 10001 10001 10001 10001 01110', P: '11110 10001 10001 11110 10000 10000 10000',
  Q: '01110 10001 10001 10001 10101 10010 01101', R: '11110 10001 10001 11110 10100 10010 10001',
  S: '01111 10000 10000 01110 00001 00001 11110', T: '11111 00100 00100 00100 00100 00100 00100',
  U: '10001 10001 10001 10001 10001 10001 01110', V: '10001 10001 10001 10001 10001 01010 00100',
  W: '10001 10001 10001 10101 10101 10101 01010', X: '10001 10001 01010 00100 01010 10001 10001',
  Y: '10001 10001 10001 01010 00100 00100 00100', Z: '11111 00001 00010 00100 01000 10000 11111',
  ' ': '00000 00000 00000 00000 00000 00000 00000', '.': '00000 00000 00000 00000 00000 01100 01100',
  ',': '00000 00000 00000 00000 01100 00100 01000', '-': '00000 00000 00000 11111 00000 00000 00000',
  '+': '00000 00100 00100 11111 00100 00100 00000', ':': '00000 01100 01100 00000 01100 01100 00000',
  '/': '00000 00001 00010 00100 01000 10000 00000', '(': '00010 00100 01000 01000 01000 00100 00010',
  ')': '01000 00100 00010 00010 00010 00100 01000', '=': '00000 00000 11111 00000 11111 00000 00000',
  '%': '11000 11001 00010 00100 01000 10011 00011', '_': '00000 00000 00000 00000 00000 00000 11111',
  '[': '01110 01000 01000 01000 01000 01000 01110', ']': '01110 00010 00010 00010 00010 00010 01110',
  '<': '00010 00100 01000 10000 01000 00100 00010', '>': '01000 00100 00010 00001 00010 00100 01000',
  '*': '00000 00100 10101 01110 10101 00100 00000', '#': '01010 01010 11111 01010 11111 01010 01010',
  "'": '01100 00100 01000 00000 00000 00000 00000', '?': '01110 10001 00001 00010 00100 00000 00100',
  '|': '00100 00100 00100 00100 00100 00100 00100', '!': '00100 00100 00100 00100 00100 00000 00100',
};
const FONT = new Map(Object.entries(FONT_ROWS).map(([ch, rows]) => [ch, rows.split(' ').map((r) => parseInt(r, 2))]));

function glyphOf(ch: string): number[] {
  return FONT.get(ch) ?? FONT.get(ch.toUpperCase()) ?? FONT.get('?')!;
}

// ---------------------------------------------------------------------------------------------------------------
// Axes and ticks

/** About `count` round tick values (1, 2 or 5 x 10^k steps) covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) out.push(k === 0 ? 0 : Number((k * step).toPrecision(12)));
  return out;
}

/** Ticks of a log axis: the powers of ten in range, plus 2x and 5x (or every multiple) when there are few decades. */
export function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  const decades = Math.log10(hi / lo);
  const mults = decades < 0.8 ? [1, 2, 3, 4, 5, 6, 7, 8, 9] : decades < 2 ? [1, 2, 5] : [1];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of mults) {
      const v = Number((m * 10 ** e).toPrecision(12));
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.push(v);
    }
  }
  return out.length > 0 ? out : [lo, hi];
}

/** Short tick label: up to 3 significant digits, exponent form for very small or large values. */
export function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) {
    const [m, e] = v.toExponential(1).split('e');
    return `${m!.replace(/\.0$/, '')}e${Number(e)}`;
  }
  return String(Number(v.toPrecision(3)));
}

// ---------------------------------------------------------------------------------------------------------------
// Plots

export interface LineSeries {
  label: string;
  x: readonly number[];
  y: readonly number[];
  color?: Rgb;
  /** 'line' (default), 'points' (small squares) or 'hline' (a horizontal reference line at y[0]). */
  style?: 'line' | 'points' | 'hline';
  /** Also mark each data point of a 'line' (default false). */
  markers?: boolean;
  thickness?: number;
}

export interface PlotOptions {
  width?: number;
  height?: number;
  title?: string;
  xLabel?: string;
  yLabel?: string;
  logY?: boolean;
  xRange?: [number, number];
  yRange?: [number, number];
}

const INK: Rgb = [0, 0, 0];
const GRID: Rgb = [225, 225, 225];

interface Frame {
  canvas: Canvas;
  px: (x: number) => number;
  py: (y: number) => number;
  left: number;
  top: number;
  right: number;
  bottom: number;
}

function drawFrame(options: PlotOptions, xr: [number, number], yr: [number, number]): Frame {
  const width = options.width ?? 800;
  const height = options.height ?? 500;
  const canvas = new Canvas(width, height);
  const logY = options.logY ?? false;
  const yTicks = logY ? logTicks(yr[0], yr[1]) : niceTicks(yr[0], yr[1], 6);
  const labelWidth = Math.max(...yTicks.map((v) => textWidth(formatTick(v))));
  const left = 14 + (options.yLabel ? 12 : 0) + labelWidth;
  const top = options.title ? 26 : 10;
  const right = width - 14;
  const bottom = height - 22 - (options.xLabel ? 14 : 0);
  const fy = (y: number) => (logY ? Math.log10(y) : y);
  const [fy0, fy1] = [fy(yr[0]), fy(yr[1])];
  const px = (x: number) => left + ((x - xr[0]) / (xr[1] - xr[0] || 1)) * (right - left);
  const py = (y: number) => bottom - ((fy(y) - fy0) / (fy1 - fy0 || 1)) * (bottom - top);

  for (const v of niceTicks(xr[0], xr[1], 8)) {
    const x = px(v);
    canvas.line(x, top, x, bottom, GRID);
    canvas.line(x, bottom, x, bottom + 4, INK);
    const s = formatTick(v);
    canvas.text(x - textWidth(s) / 2, bottom + 7, s, INK);
  }
  for (const v of yTicks) {
    const y = py(v);
    canvas.line(left, y, right, y, GRID);
    canvas.line(left - 4, y, left, y, INK);
    const s = formatTick(v);
    canvas.text(left - 6 - textWidth(s), y - 3, s, INK);
  }
  canvas.line(left, top, left, bottom, INK);
  canvas.line(left, bottom, right, bottom, INK);
  canvas.line(left, top, right, top, INK);
  canvas.line(right, top, right, bottom, INK);
  if (options.title) {
    // a title wider than the plot at double size is drawn at single size rather than cut at both ends
    const scale = textWidth(options.title, 2) <= width - 8 ? 2 : 1;
    canvas.text((width - textWidth(options.title, scale)) / 2, scale === 2 ? 5 : 9, options.title, INK, scale);
  }
  if (options.xLabel) canvas.text((left + right - textWidth(options.xLabel)) / 2, height - 12, options.xLabel, INK);
  if (options.yLabel) canvas.textVertical(4, (top + bottom + textWidth(options.yLabel)) / 2, options.yLabel, INK);
  return { canvas, px, py, left, top, right, bottom };
}

function drawLegend(frame: Frame, entries: { label: string; color: Rgb }[]): void {
  if (entries.length === 0) return;
  const w = Math.max(...entries.map((e) => textWidth(e.label))) + 30;
  const h = entries.length * 12 + 6;
  const x = frame.right - w - 6;
  const y = frame.top + 6;
  frame.canvas.fillRect(x, y, w, h, [255, 255, 255]);
  frame.canvas.line(x, y, x + w, y, INK);
  frame.canvas.line(x, y + h, x + w, y + h, INK);
  frame.canvas.line(x, y, x, y + h, INK);
  frame.canvas.line(x + w, y, x + w, y + h, INK);
  entries.forEach((e, i) => {
    const ly = y + 6 + i * 12;
    frame.canvas.fillRect(x + 5, ly + 2, 16, 3, e.color);
    frame.canvas.text(x + 25, ly, e.label, INK);
  });
}

function extent(values: Iterable<number>, positiveOnly: boolean): [number, number] {
  let lo = Infinity, hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v) || (positiveOnly && !(v > 0))) continue;
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  if (lo === Infinity) return positiveOnly ? [0.1, 1] : [0, 1];
  if (lo === hi) return positiveOnly ? [lo / 2, hi * 2] : [lo - 0.5, hi + 0.5];
  return [lo, hi];
}

/** Line plot of several series (with a legend). */
export function plotLines(series: readonly LineSeries[], options: PlotOptions = {}): Image {
  for (const s of series) {
    if (s.style !== 'hline' && s.x.length !== s.y.length) throw new Error(`plotLines: series "${s.label}" has ${s.x.length} x and ${s.y.length} y values`);
  }
  const logY = options.logY ?? false;
  const xr = options.xRange ?? extent(series.filter((s) => s.style !== 'hline').flatMap((s) => s.x), false);
  let yr = options.yRange ?? extent(series.flatMap((s) => s.y), logY);
  if (!options.yRange) yr = logY ? [yr[0] / 1.15, yr[1] * 1.15] : [Math.min(0, yr[0]), yr[1] * 1.05];
  const frame = drawFrame(options, xr, yr);
  const clipY = (y: number) => Math.min(frame.bottom, Math.max(frame.top, y));
  series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length]!;
    const t = s.thickness ?? 2;
    if (s.style === 'hline') {
      const y = frame.py(s.y[0]!);
      if (y >= frame.top && y <= frame.bottom) for (let x = frame.left; x < frame.right; x += 8) frame.canvas.line(x, y, Math.min(x + 4, frame.right), y, color, t);
      return;
    }
    let prev: [number, number] | undefined;
    for (let k = 0; k < s.x.length; k++) {
      const yv = s.y[k]!;
      if (!Number.isFinite(yv) || (logY && !(yv > 0))) { prev = undefined; continue; }
      const p: [number, number] = [frame.px(s.x[k]!), clipY(frame.py(yv))];
      if (s.style === 'points' || s.markers) frame.canvas.fillRect(p[0] - 2, p[1] - 2, 5, 5, color);
      if (s.style !== 'points' && prev) frame.canvas.line(prev[0], prev[1], p[0], p[1], color, t);
      prev = p;
    }
  });
  drawLegend(frame, series.map((s, i) => ({ label: s.label, color: s.color ?? PALETTE[i % PALETTE.length]! })));
  return frame.canvas.image;
}

export interface HistogramGroup {
  label: string;
  values: readonly number[];
  color?: Rgb;
}

export interface HistogramOptions extends PlotOptions {
  bins?: number;
  /** Value range binned; default [0, the 99th percentile of all values]. Values above land in the last bin. */
  range?: [number, number];
}

/** Overlaid histograms as step outlines, each normalised to a fraction of its group's values per bin. */
export function plotHistograms(groups: readonly HistogramGroup[], options: HistogramOptions = {}): Image {
  const bins = options.bins ?? 40;
  const all = groups.flatMap((g) => g.values.filter(Number.isFinite)).sort((a, b) => a - b);
  if (all.length === 0) throw new Error('plotHistograms: no finite values');
  const range = options.range ?? [Math.min(0, all[0]!), all[Math.min(all.length - 1, Math.floor(0.99 * all.length))]! || 1];
  const [lo, hi] = range;
  const width = (hi - lo) / bins;
  const counts = groups.map((g) => {
    const c = new Array<number>(bins).fill(0);
    const finite = g.values.filter(Number.isFinite);
    for (const v of finite) c[Math.min(bins - 1, Math.max(0, Math.floor((v - lo) / width)))]!++;
    return c.map((n) => n / Math.max(1, finite.length));
  });
  const series: LineSeries[] = groups.map((g, i) => {
    const x: number[] = [];
    const y: number[] = [];
    counts[i]!.forEach((f, b) => {
      x.push(lo + b * width, lo + (b + 1) * width);
      y.push(f, f);
    });
    return { label: g.label, x, y, color: g.color };
  });
  return plotLines(series, { yLabel: 'fraction', ...options, xRange: [lo, hi] });
}

export async function savePlot(path: string, image: Image): Promise<void> {
  await writeImage(path, image);
}
