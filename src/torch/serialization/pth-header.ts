// The names, shapes and dtypes of a PyTorch .pth state dict without reading any tensor data: only the pickle
// is read (zip: the data.pkl record; legacy: the pickles before the storages), through the same restricted
// unpickler as loadPth. A 6 GB unet.pth is checked in milliseconds.

import type { DType } from '../dtype.ts';
import { ByteReader } from './byte-reader.ts';
import { pyTypeName, unpickle } from './pickle.ts';
import { bytesSource, RandomAccessFile } from './random-access-file.ts';
import { resolveTorchGlobal, storageFromPersistentId, TensorRef } from './torch-globals.ts';
import { looksLikeZip, ZipArchive } from './zip.ts';
import { LIMITS } from '../../io/limits.ts';

export interface TensorHeader {
  dtype: DType;
  shape: number[];
}

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const WRAPPER_KEYS = ['state_dict', 'module'];

/** name -> {dtype, shape} of the state dict in a torch.save file, in file order. */
export function readPthHeader(path: string): Map<string, TensorHeader> {
  return RandomAccessFile.with(path, (file) => {
    try {
      return entriesOf(looksLikeZip(file) ? zipPickle(file) : legacyPickle(file));
    } catch (err) {
      throw new Error(`${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  });
}

const OPTIONS = { resolveGlobal: resolveTorchGlobal, persistentLoad: storageFromPersistentId };

function zipPickle(file: RandomAccessFile): unknown {
  const zip = ZipArchive.open(file);
  const pickles = [...zip.entries.keys()].filter((n) => n === 'data.pkl' || n.endsWith('/data.pkl'));
  if (pickles.length !== 1) throw new Error(`expected one data.pkl in the zip archive, found ${pickles.length}: not a torch.save checkpoint`);
  return unpickle(new ByteReader(bytesSource(zip.read(zip.entries.get(pickles[0])!, LIMITS.pickleBytes))), OPTIONS);
}

function legacyPickle(file: RandomAccessFile): unknown {
  if (file.size === 0 || file.read(0, 1)[0] !== 0x80) throw new Error('not a PyTorch checkpoint: neither a zip archive nor a pickle');
  const reader = new ByteReader(file);
  const plain = { resolveGlobal: resolveTorchGlobal };
  if (unpickle(reader, plain) !== LEGACY_MAGIC) throw new Error('not a PyTorch checkpoint: neither a zip archive nor the legacy format');
  unpickle(reader, plain); // protocol version
  unpickle(reader, plain); // system info
  return unpickle(reader, OPTIONS);
}

function entriesOf(value: unknown): Map<string, TensorHeader> {
  if (!(value instanceof Map)) throw new Error(`expected a state dict (a dict of name -> tensor), found ${pyTypeName(value)}`);
  let dict: Map<unknown, unknown> = value;
  if (![...dict.values()].every((v) => v instanceof TensorRef)) {
    const wrapped = WRAPPER_KEYS.map((k) => dict.get(k)).find((v) => v instanceof Map);
    if (wrapped instanceof Map) dict = wrapped;
  }
  const out = new Map<string, TensorHeader>();
  for (const [key, v] of dict) {
    if (typeof key !== 'string' || !(v instanceof TensorRef)) {
      throw new Error(`expected a flat state dict of name -> tensor, found ${pyTypeName(key)} -> ${pyTypeName(v)}`);
    }
    out.set(key, { dtype: v.storage.dtype, shape: v.shape });
  }
  return out;
}
