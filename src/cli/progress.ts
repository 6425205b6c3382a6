// Progress on long runs: frames done, frames per second, ETA. One updating line on a terminal, a line every
// few seconds otherwise (logs, CI).

import type { FrameProgress } from '../io/frame-folder.ts';
import { formatDuration } from '../util/format.ts';
import { liveLine } from './progress-bar.ts';

export interface ProgressReporter {
  (progress: FrameProgress): void;
  done(): void;
}

/** The progress line: "label 120/300 frames  4.2 fps  ETA 43s". */
export function progressLine(label: string, progress: FrameProgress, elapsedSeconds: number): string {
  const fps = progress.frames / Math.max(elapsedSeconds, 1e-9);
  const total = progress.total;
  const eta = total !== undefined ? (total - progress.frames) / fps : NaN;
  return `${label} ${progress.frames}${total !== undefined ? `/${total}` : ''} frames  ${fps.toFixed(1)} fps` +
    (total !== undefined ? `  ETA ${formatDuration(eta)}` : `  ${formatDuration(elapsedSeconds)} elapsed`);
}

export function progressReporter(label: string, stream: NodeJS.WriteStream = process.stderr, intervalSeconds = 5): ProgressReporter {
  const start = performance.now();
  const out = liveLine(stream, intervalSeconds);
  const report = ((progress: FrameProgress) => {
    const finished = progress.total !== undefined && progress.frames >= progress.total;
    out.write(() => progressLine(label, progress, (performance.now() - start) / 1000), finished);
  }) as ProgressReporter;
  report.done = () => out.end();
  return report;
}
