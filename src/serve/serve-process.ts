// `stable-animator serve` as a child process in its own process group (so that it, its Redis and its workers can
// be signalled together), resolved once it prints its address. Used by the fault tests and the load benchmark.
import { spawn, type ChildProcess } from 'node:child_process';

export const BIN = new URL('../../bin/stable-animator.js', import.meta.url).pathname;

export interface ServeProcess {
  child: ChildProcess;
  url: string;
  /** Its stderr so far (its own and its workers' lines). */
  log(): string;
}

export async function startServeProcess(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<ServeProcess> {
  const child = spawn(process.execPath, [BIN, 'serve', ...args], {
    cwd: new URL('../../', import.meta.url).pathname, detached: true, stdio: ['ignore', 'ignore', 'pipe'], env,
  });
  let log = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      log += d.toString();
      const m = /stable-animator serve: (http:\/\/\S+?)\//.exec(log);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`serve exited (${code}):\n${log}`)));
  });
  return { child, url, log: () => log };
}
