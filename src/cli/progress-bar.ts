// A progress bar for counted work (denoising steps, downloaded bytes): one updating line on a terminal, a
// line every few seconds otherwise. "denoise [########------] 12/25  3.4 s/step  ETA 44s  <extra>".

import { formatBytes, formatDuration } from '../util/format.ts';

export interface ProgressBar {
  update(done: number, total: number, extra?: string): void;
  /** Ends the line (terminal) and prints a final one. */
  finish(message?: string): void;
}

export interface ProgressBarOptions {
  /** 'steps' (default) or 'bytes': how counts and rates are shown. */
  unit?: 'steps' | 'bytes';
  stream?: NodeJS.WriteStream;
  intervalSeconds?: number;
  width?: number;
}

/** One updating line on a terminal (at most every 0.2 s), a printed line every intervalSeconds otherwise. */
export interface LiveLine {
  /** Writes line() unless the last write was too recent; `force` writes anyway (the final state). */
  write(line: () => string, force: boolean): void;
  /** Ends the updating line on a terminal. */
  end(): void;
}

export function liveLine(stream: NodeJS.WriteStream = process.stderr, intervalSeconds = 5): LiveLine {
  const tty = stream.isTTY === true;
  const interval = (tty ? 0.2 : intervalSeconds) * 1000;
  let last = -Infinity;
  let open = false;
  return {
    write(line, force) {
      const now = performance.now();
      if (!force && now - last < interval) return;
      last = now;
      open = true;
      stream.write(tty ? `\r${line()}\x1b[K` : `${line()}\n`);
    },
    end() {
      if (tty && open) stream.write('\n');
      open = false;
    },
  };
}

export function progressBar(label: string, opts: ProgressBarOptions = {}): ProgressBar {
  const stream = opts.stream ?? process.stderr;
  const out = liveLine(stream, opts.intervalSeconds);
  const width = opts.width ?? 24;
  const start = performance.now();
  const render = (done: number, total: number, extra?: string) => {
    const elapsed = (performance.now() - start) / 1000;
    const frac = total > 0 ? Math.min(1, done / total) : 0;
    const filled = Math.round(frac * width);
    const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
    const eta = done > 0 ? (elapsed / done) * (total - done) : NaN;
    const counts = opts.unit === 'bytes' ? `${formatBytes(done)}/${formatBytes(total)}  ${formatBytes(done / Math.max(elapsed, 1e-9))}/s`
      : `${done}/${total}  ${done > 0 ? (elapsed / done).toFixed(2) : '?'} s/step`;
    return `${label} ${bar} ${counts}  ETA ${formatDuration(eta)}${extra ? `  ${extra}` : ''}`;
  };
  return {
    update(done, total, extra) {
      out.write(() => render(done, total, extra), done >= total);
    },
    finish(message) {
      out.end();
      if (message) stream.write(`${message}\n`);
    },
  };
}
