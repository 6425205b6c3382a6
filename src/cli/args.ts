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

export type NumberKind = 'int' | 'posint' | 'count' | 'number' | 'nonneg';
const KIND_TEXT: Record<NumberKind, string> = {
  int: 'an integer', posint: 'a positive integer', count: 'a non-negative integer', number: 'a number', nonneg: 'a non-negative number',
};

/** --option's text as a number of the given kind; undefined text gives `fallback` when there is one. */
export function parseNumber(option: string, text: string | boolean | undefined, kind: NumberKind, fallback?: number): number {
  if (text === undefined && fallback !== undefined) return fallback;
  const v = Number(text);
  const ok = kind === 'number' ? Number.isFinite(v) : kind === 'nonneg' ? Number.isFinite(v) && v >= 0
    : Number.isInteger(v) && (kind === 'int' || (kind === 'posint' ? v > 0 : v >= 0));
  if (typeof text !== 'string' || !ok) throw new Error(`--${option} must be ${KIND_TEXT[kind]}, got '${String(text)}'`);
  return v;
}

/** A non-negative option: an integer, or any number. */
export const num = (option: string, text: string | undefined, integer: boolean): number => parseNumber(option, text, integer ? 'count' : 'nonneg');
