// One model checkpoint file -> a state dict of engine tensors: PyTorch `.pth` (the released
// StableAnimator files) or `.safetensors`, floating tensors converted to the requested dtype.
import * as torch from '../torch/index.ts';
import type { DType, RawTensor, Tensor } from '../torch/index.ts';
import type * as nn from '../nn/index.ts';
import { loadPth, readSafetensors } from '../torch/serialization/index.ts';

export interface CheckpointOptions {
  /** Floating tensors are converted to this dtype (default f32, the checkpoints' own). */
  dtype?: DType;
}

/** Reads `path` by its extension (.safetensors, else a torch.save file). */
export function readStateDict(path: string, opts: CheckpointOptions = {}): Map<string, Tensor> {
  const dtype = opts.dtype ?? 'f32';
  const raw: Map<string, RawTensor> = path.endsWith('.safetensors') ? readSafetensors(path) : loadPth(path);
  const out = new Map<string, Tensor>();
  for (const [key, r] of raw) {
    const t = torch.fromRaw(r);
    if (!torch.isFloating(t.dtype) || t.dtype === dtype) {
      out.set(key, t);
    } else {
      out.set(key, t.to(dtype));
      t.dispose();
    }
  }
  return out;
}

/**
 * Loads `path` into a model built on 'meta': strictly (every key present, none extra, shapes equal; the
 * error lists all differences and names the file), adopting the tensors (`assign`), then eval mode.
 */
export function loadCheckpointInto<M extends nn.Module>(model: M, path: string, opts: CheckpointOptions = {}): M {
  model.loadStateDict(readStateDict(path, opts), { strict: true, assign: true, source: path });
  return model.eval();
}
