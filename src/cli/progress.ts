// Progress on long runs: frames done, frames per second, ETA. One updating line on a terminal, a line every
// few seconds otherwise (logs, CI).

import type { FrameProgress } from '../io/frame-folder.ts';

export interface ProgressReporter {
  (progress: FrameProgress): void;
  done(): void;
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
    : s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/** The progress line: "label 120/300 frames  4.2 fps  ETA 43s". */
export function progressLine(label: string, progress: FrameProgress, elapsedSeconds: number): string {
  const fps = progress.frames / Math.max(elapsedSeconds, 1e-9);
  const total = progress.total;
  const eta = total !== undefined ? (total - progress.frames) / fps : NaN;
  return `${label} ${progress.frames}${total !== undefined ? `/${total}` : ''} frames  ${fps.toFixed(1)} fps` +
    (total !== undefined ? `  ETA ${duration(eta)}` : `  ${duration(elapsedSeconds)} elapsed`);
}

export function progressReporter(label: string, stream: NodeJS.WriteStream = process.stderr, intervalSeconds = 5): ProgressReporter {
  const start = performance.now();
  let lastPrint = -Infinity;
  let last: FrameProgress | undefined;
  const tty = stream.isTTY === true;
  const report = ((progress: FrameProgress) => {
    last = progress;
    const now = performance.now();
    const finished = progress.total !== undefined && progress.frames >= progress.total;
    if (!finished && now - lastPrint < (tty ? 200 : intervalSeconds * 1000)) return;
    lastPrint = now;
    const line = progressLine(label, progress, (now - start) / 1000);
    stream.write(tty ? `\r${line}\x1b[K` : `${line}\n`);
  }) as ProgressReporter;
  report.done = () => {
    if (tty && last) stream.write('\n');
  };
  return report;
}
