// Parsers shared by the commands' options: each error names the option, what it expects and what it got.
import { checkFrameSides } from '../io/limits.ts';

/** --size WxH -> [W, H], positive and within the frame-side limit (io/limits.ts). */
export function parseSize(text: string, option = '--size'): [number, number] {
  const m = /^(\d+)x(\d+)$/i.exec(text.trim());
  if (!m || Number(m[1]) <= 0 || Number(m[2]) <= 0) throw new Error(`${option} must be WxH (e.g. 512x512), got '${text}'`);
  const size: [number, number] = [Number(m[1]), Number(m[2])];
  checkFrameSides(option, ...size);
  return size;
}
