// Integer codes that cross into libtorch for enum-like arguments.
import { SCALAR_TYPE, type DType } from './dtype.ts';

export type Device = 'cpu' | 'cuda' | `cuda:${number}`;
export type MemoryFormat = 'contiguous' | 'preserve' | 'channels_last' | 'channels_last_3d';

const MEMORY_FORMAT: Record<MemoryFormat, number> = { contiguous: 0, preserve: 1, channels_last: 2, channels_last_3d: 3 };

export function dtypeCode(d: DType | undefined): number | undefined {
  if (d === undefined) return undefined;
  const code = SCALAR_TYPE[d];
  if (code === undefined) throw new TypeError(`unknown dtype '${d}' (expected one of ${Object.keys(SCALAR_TYPE).join(', ')})`);
  return code;
}

export function memoryFormatCode(m: MemoryFormat | undefined): number | undefined {
  if (m === undefined) return undefined;
  const code = MEMORY_FORMAT[m];
  if (code === undefined) throw new TypeError(`unknown memory format '${m}'`);
  return code;
}
