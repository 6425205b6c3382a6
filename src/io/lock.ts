// One writer per output folder: a lock file (`.lock`, holding the pid and the command) created exclusively,
// removed when the process exits. A second run into the same folder is told which process holds it, instead
// of interleaving its checkpoints with the first's; the lock of a process that died (kill -9) is taken over.
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { processAlive } from './atomic.ts';

export const LOCK_FILE = '.lock';

const held = new Set<string>();
let exitHook = false;

/** Takes the folder's lock (creating the folder); throws, naming the holder, when a live process has it. */
export function lockFolder(dir: string): () => void {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, LOCK_FILE);
  if (held.has(path)) return () => {};
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, `${JSON.stringify({ pid: process.pid, command: process.argv.slice(1).join(' '), since: new Date().toISOString() })}\n`);
      closeSync(fd);
      held.add(path);
      if (!exitHook) {
        exitHook = true;
        process.on('exit', () => { for (const p of held) rmSync(p, { force: true }); });
      }
      return () => {
        held.delete(path);
        rmSync(path, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let holder: { pid?: number; command?: string; since?: string } = {};
      try {
        holder = JSON.parse(readFileSync(path, 'utf8'));
      } catch { /* a lock being written, or damaged: treated as held below if its pid is unknown */ }
      if (holder.pid !== undefined && holder.pid !== process.pid && processAlive(holder.pid)) {
        throw new Error(`${dir}: in use by process ${holder.pid} (${holder.command ?? 'unknown command'}, since ${holder.since ?? '?'}); ` +
          `wait for it, stop it, or write into another folder`);
      }
      if (holder.pid === undefined && attempt === 0) {
        throw new Error(`${path}: a lock file without a process id; remove it if no run is writing into ${dir}`);
      }
      rmSync(path, { force: true }); // its process is gone
    }
  }
  throw new Error(`${path}: could not take the lock: another process created it again while this one removed its dead holder's; try again`);
}
