// PyTorch .pth state dicts, loaded without executing any code from the file. Two layouts:
// - zip (torch >= 1.6): <prefix>/data.pkl, whose persistent ids name records <prefix>/data/<key>;
// - legacy (older torch, or _use_new_zipfile_serialization=False): five pickles in a row (magic number,
//   protocol version, system info, the object, the list of storage keys), then each storage's bytes in
//   key order, each prefixed by its element count as an int64.
// Storages are read from their offsets only once a tensor needs them, so big checkpoints are not
// slurped whole.

import { ITEM_SIZE, type RawTensor } from '../dtype.ts';
import { ByteReader } from './byte-reader.ts';
import { pyTypeName, unpickle } from './pickle.ts';
import { bytesSource, RandomAccessFile } from './random-access-file.ts';
import { contiguousBytes, elementCount } from './strided.ts';
import { resolveTorchGlobal, storageFromPersistentId, StorageRef, TensorRef } from './torch-globals.ts';
import { looksLikeZip, ZipArchive } from './zip.ts';
import { LIMITS } from '../../io/limits.ts';

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;
// Keys under which training scripts commonly nest the state dict.
const WRAPPER_KEYS = ['state_dict', 'module'];

/**
 * The state dict (name -> tensor) in a torch.save file, in its order, every tensor contiguous. Tensors that
 * share a storage in the file may share bytes (windows on one buffer), as torch.load's tensors do: copy
 * before mutating one in place.
 */
export function loadPth(path: string): Map<string, RawTensor> {
  return RandomAccessFile.with(path, (file) => {
    try {
      return looksLikeZip(file) ? loadZip(file) : loadLegacy(file);
    } catch (err) {
      throw new Error(`${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  });
}

function loadZip(file: RandomAccessFile): Map<string, RawTensor> {
  const zip = ZipArchive.open(file);
  const pickles = [...zip.entries.keys()].filter((n) => n === 'data.pkl' || n.endsWith('/data.pkl'));
  if (pickles.length !== 1) {
    throw new Error(`expected one data.pkl in the zip archive, found ${pickles.length}: not a torch.save checkpoint`);
  }
  const prefix = pickles[0].slice(0, -'data.pkl'.length);
  const byteorder = zip.entries.get(`${prefix}byteorder`);
  if (byteorder && new TextDecoder().decode(zip.read(byteorder)) !== 'little') {
    throw new Error('the checkpoint was saved on a big-endian machine, which is not supported');
  }
  const pickle = zip.read(zip.entries.get(pickles[0])!, LIMITS.pickleBytes);
  const value = unpickle(new ByteReader(bytesSource(pickle)), { resolveGlobal: resolveTorchGlobal, persistentLoad: storageFromPersistentId });
  return materialize(stateDictOf(value), (storage) => {
    const entry = zip.entries.get(`${prefix}data/${storage.key}`);
    if (!entry) throw new Error(`storage '${storage.key}' has no record ${prefix}data/${storage.key} in the archive`);
    return zip.read(entry);
  });
}

function loadLegacy(file: RandomAccessFile): Map<string, RawTensor> {
  // Both layouts begin with a pickle of protocol >= 2, whose first byte is PROTO (0x80).
  if (file.size === 0 || file.read(0, 1)[0] !== 0x80) {
    throw new Error('not a PyTorch checkpoint: neither a zip archive nor a pickle');
  }
  const reader = new ByteReader(file);
  const plain = { resolveGlobal: resolveTorchGlobal };
  if (unpickle(reader, plain) !== LEGACY_MAGIC) {
    throw new Error('not a PyTorch checkpoint: neither a zip archive nor the legacy format (wrong magic number)');
  }
  const protocol = unpickle(reader, plain);
  if (protocol !== LEGACY_PROTOCOL) throw new Error(`unsupported legacy protocol version ${String(protocol)} (expected ${LEGACY_PROTOCOL})`);
  const sysInfo = unpickle(reader, plain);
  if (sysInfo instanceof Map && sysInfo.get('little_endian') === false) {
    throw new Error('the checkpoint was saved on a big-endian machine, which is not supported');
  }
  const storages = new Map<string, StorageRef>();
  const value = unpickle(reader, {
    resolveGlobal: resolveTorchGlobal,
    persistentLoad(pid) {
      const storage = storageFromPersistentId(pid);
      if (!storages.has(storage.key)) storages.set(storage.key, storage);
      return storage;
    },
  });
  const keys = unpickle(reader, plain);
  if (!Array.isArray(keys)) throw new Error(`expected the list of storage keys after the object, found ${pyTypeName(keys)}`);

  // The storages follow in key order; find where each one's bytes are without reading them.
  const located = new Map<string, { offset: number; nbytes: number }>();
  let position = reader.position;
  for (const key of keys) {
    const storage = typeof key === 'string' ? storages.get(key) : undefined;
    if (!storage) throw new Error(`storage key ${JSON.stringify(key)} is listed, but no tensor uses it`);
    const count = new DataView(file.read(position, 8).buffer).getBigInt64(0, true);
    if (count !== BigInt(storage.numel)) {
      throw new Error(`storage '${storage.key}': the file says ${count} elements, the pickle ${storage.numel}`);
    }
    const nbytes = storage.numel * ITEM_SIZE[storage.dtype];
    if (position + 8 + nbytes > file.size) {
      throw new Error(`storage '${storage.key}' (${nbytes} bytes at ${position + 8}) runs past the end of the ${file.size}-byte file`);
    }
    located.set(storage.key, { offset: position + 8, nbytes });
    position += 8 + nbytes;
  }
  return materialize(stateDictOf(value), (storage) => {
    const at = located.get(storage.key);
    if (!at) throw new Error(`storage '${storage.key}' is used by a tensor, but its bytes are not in the file`);
    return file.read(at.offset, at.nbytes);
  });
}

/** The unpickled object as a flat name -> tensor map, unwrapping {state_dict: ...} or {module: ...}. */
function stateDictOf(value: unknown): Map<string, TensorRef> {
  if (!(value instanceof Map)) throw new Error(`expected a state dict (a dict of name -> tensor), found ${pyTypeName(value)}`);
  let dict = value;
  const isTensorDict = (m: Map<unknown, unknown>) => [...m.values()].every((v) => v instanceof TensorRef);
  if (!isTensorDict(dict)) {
    const wrapped = WRAPPER_KEYS.map((k) => dict.get(k)).find((v) => v instanceof Map);
    if (wrapped instanceof Map) dict = wrapped;
  }
  for (const [key, v] of dict) {
    if (typeof key !== 'string') throw new Error(`expected a state dict, but it has a key of type ${pyTypeName(key)}`);
    if (!(v instanceof TensorRef)) {
      const keys = [...dict.keys()].slice(0, 10).map(String).join(', ');
      throw new Error(`expected a state dict (a flat dict of name -> tensor), but '${key}' is a ${pyTypeName(v)} (keys: ${keys}${dict.size > 10 ? ', ...' : ''})`);
    }
  }
  return dict as Map<string, TensorRef>;
}

/** Each tensor's bytes gathered from its storage; each storage is read once, when a tensor first needs it. */
function materialize(dict: Map<string, TensorRef>, readStorage: (s: StorageRef) => Uint8Array): Map<string, RawTensor> {
  const cache = new Map<string, Uint8Array>();
  const out = new Map<string, RawTensor>();
  for (const [name, t] of dict) {
    const { dtype, numel: capacity, key } = t.storage;
    // Guard against views that would conjure more data than the file holds.
    const count = elementCount(t.shape);
    if (count > capacity) throw new Error(`tensor '${name}' has ${count} elements, but its storage '${key}' holds only ${capacity}`);
    if (count > 0) {
      const last = t.shape.reduce((end, size, d) => end + (size - 1) * t.stride[d], t.offset);
      if (last >= capacity) {
        throw new Error(`tensor '${name}' (offset ${t.offset}, size [${t.shape}], stride [${t.stride}]) reaches element ${last} of its ${capacity}-element storage '${key}'`);
      }
    }
    let bytes = cache.get(key);
    if (!bytes) cache.set(key, (bytes = readStorage(t.storage)));
    if (bytes.length !== capacity * ITEM_SIZE[dtype]) {
      throw new Error(`storage '${key}' holds ${bytes.length} bytes, but tensor '${name}' reads it as ${capacity} ${dtype} elements`);
    }
    out.set(name, { dtype, shape: t.shape, data: contiguousBytes(bytes, ITEM_SIZE[dtype], t) });
  }
  return out;
}
