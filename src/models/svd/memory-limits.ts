// Bounds on the largest transient tensors of a model's forward pass. Attention scores and GEGLU
// intermediates are computed in chunks of rows under these bounds; the results do not change.
import type * as nn from '../../nn/index.ts';
import { Attention } from './attention.ts';
import { FeedForward } from './feed-forward.ts';

export interface MemoryLimits {
  /** Elements of one attention score block [batch·heads, queries, keys] (default 2^25). */
  maxScoreElements?: number;
  /** Elements of one feed-forward intermediate [rows, 2·inner] (default 2^25). */
  maxFeedForwardElements?: number;
}

export function setMemoryLimits(model: nn.Module, limits: MemoryLimits): void {
  for (const [, m] of model.modules()) {
    if (m instanceof Attention && limits.maxScoreElements) m.maxScoreElements = limits.maxScoreElements;
    if (m instanceof FeedForward && limits.maxFeedForwardElements) m.maxChunkElements = limits.maxFeedForwardElements;
  }
}
