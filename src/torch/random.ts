// Seeded random generators, passed explicitly to every random op (no hidden global state).
import type { Device } from './codes.ts';
import { native, type GeneratorHandle } from './native.ts';

export class Generator {
  readonly h: GeneratorHandle;
  constructor(readonly seed: number, readonly device: Device = 'cpu') {
    this.h = native.newGenerator(seed, device);
  }
}
