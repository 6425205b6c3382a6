// Checkpoint files <-> RawTensors: safetensors (read and write) and PyTorch .pth state dicts (read only,
// through a restricted unpickler that never executes code from the file).

export { readSafetensors, readSafetensorsHeader, writeSafetensors } from './safetensors.ts';
export type { SafetensorsEntry, SafetensorsHeader } from './safetensors.ts';
export { loadPth } from './pth.ts';
export { readCheckpointHeader, headerDim } from './checkpoint-header.ts';
export type { CheckpointHeader } from './checkpoint-header.ts';
