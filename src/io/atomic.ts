// Atomic file output: write under a temporary name in the destination folder, then rename.
// A reader never sees a half-written file, and a failed write leaves nothing behind.

import { randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { copyFile, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';

/**
 * A hidden temporary path next to `path`. It keeps the extension, because tools such as ffmpeg and sharp
 * choose the output format from it; being in the same folder keeps the final rename atomic.
 */
export function temporaryPathFor(path: string): string {
  const ext = extname(path);
  const stem = basename(path, ext);
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  return join(dirname(path), `.${stem}.tmp-${tag}${ext}`);
}

/** Whether process `pid` still runs (EPERM: it does, under another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes what killed runs left next to `path`: temporaries named by temporaryPathFor (or writeFrameFolder's
 * `.name.tmp-PID-*` / `.name.old-PID-*` folders) whose process is gone.
 */
export async function removeDeadTemporaries(path: string): Promise<void> {
  const ext = extname(path);
  const stem = basename(path, ext);
  const pattern = new RegExp(`^\\.${stem.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.(?:tmp|old)-(\\d+)-[0-9a-f]+(?:${ext.replace('.', '\\.')})?$`);
  let names: string[];
  try {
    names = await readdir(dirname(path));
  } catch {
    return;
  }
  for (const name of names) {
    const m = pattern.exec(name);
    if (m && Number(m[1]) !== process.pid && !processAlive(Number(m[1]))) await rm(join(dirname(path), name), { recursive: true, force: true });
  }
}

/**
 * Runs `write(tempPath)` and renames the result to `path` once it succeeds. On failure the temporary file is
 * removed and the error is rethrown. Creates the destination folder if needed.
 */
export async function writeAtomically<T>(path: string, write: (tempPath: string) => Promise<T>): Promise<T> {
  await mkdir(dirname(path), { recursive: true });
  await removeDeadTemporaries(path);
  const temp = temporaryPathFor(path);
  try {
    const result = await write(temp);
    await rename(temp, path);
    return result;
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

/** `fs.copyFile`, atomically. */
export async function copyFileAtomic(from: string, to: string): Promise<void> {
  await writeAtomically(to, (temp) => copyFile(from, temp));
}

/** `fs.writeFile`, atomically. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await writeAtomically(path, (temp) => writeFile(temp, data));
}

/**
 * Fails fast (before any heavy work) when `path` cannot be written: a file output where a folder is, a folder
 * output where a file is, or no writable folder to create it in (the nearest existing ancestor is a file, or
 * not writable).
 */
export function checkOutputPath(path: string, kind: 'file' | 'folder', option = '-o'): void {
  if (existsSync(path)) {
    const isDir = statSync(path).isDirectory();
    if (kind === 'file' && isDir) throw new Error(`${option} ${path}: is a folder, expected a file name`);
    if (kind === 'folder' && !isDir) throw new Error(`${option} ${path}: is a file, expected a folder`);
  }
  let dir = dirname(resolve(path));
  while (!existsSync(dir)) dir = dirname(dir);
  if (!statSync(dir).isDirectory()) throw new Error(`${option} ${path}: ${dir} is a file, so no folder can be made there`);
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new Error(`${option} ${path}: the folder ${dir} is not writable`);
  }
}
