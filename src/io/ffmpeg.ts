// Running Debian's ffmpeg/ffprobe as child processes: where to find them, what to say when they are missing,
// and the tail of their stderr for error messages.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';

export type MediaTool = 'ffmpeg' | 'ffprobe';

const ENV_OVERRIDE: Record<MediaTool, string> = { ffmpeg: 'FFMPEG_PATH', ffprobe: 'FFPROBE_PATH' };
const STDERR_TAIL_CHARS = 2000;

/** `$FFMPEG_PATH` / `$FFPROBE_PATH`, else Debian's `/usr/bin/<tool>`, else whatever is on PATH. */
export function mediaToolPath(tool: MediaTool): string {
  const override = process.env[ENV_OVERRIDE[tool]];
  if (override) return override;
  const debian = `/usr/bin/${tool}`;
  return existsSync(debian) ? debian : tool;
}

function missingToolError(tool: MediaTool): Error {
  return new Error(
    `${tool} not found (tried ${mediaToolPath(tool)}). Install it with \`apt-get install ffmpeg\` ` +
      `(Debian/Ubuntu), or point ${ENV_OVERRIDE[tool]} at the binary.`,
  );
}

export interface ToolExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last characters ffmpeg wrote to stderr: its explanation when something failed. */
  stderrTail: string;
}

export interface ToolProcess {
  child: ChildProcess;
  /** Resolves when the process has exited; rejects only when the tool could not be started. */
  exited: Promise<ToolExit>;
}

/** Starts a media tool with stdin/stdout as pipes and stderr captured. */
export function startMediaTool(tool: MediaTool, args: string[]): ToolProcess {
  const child = spawn(mediaToolPath(tool), args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (text: string) => {
    stderr = (stderr + text).slice(-STDERR_TAIL_CHARS);
  });
  const exited = new Promise<ToolExit>((resolve, reject) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'ENOENT' ? missingToolError(tool) : err);
    });
    child.once('close', (code, signal) => resolve({ code, signal, stderrTail: stderr.trim() }));
  });
  exited.catch(() => {}); // callers await it; this only keeps an early spawn failure from being "unhandled"
  // An early exit (bad input) closes stdin under a pending write; the exit status reports that failure.
  child.stdin!.on('error', () => {});
  return { child, exited };
}

/** Describes a failed exit for an error message: the status and what the tool said. */
export function describeExit(exit: ToolExit): string {
  const status = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
  return exit.stderrTail ? `${status}: ${exit.stderrTail}` : status;
}

/** Runs a tool to completion and returns its stdout; throws with `context` and the stderr tail on failure. */
export async function runMediaTool(tool: MediaTool, args: string[], context: string): Promise<Buffer> {
  const proc = startMediaTool(tool, args);
  proc.child.stdin!.end();
  const chunks: Buffer[] = [];
  proc.child.stdout!.on('data', (chunk: Buffer) => chunks.push(chunk));
  const exit = await proc.exited;
  if (exit.code !== 0) throw new Error(`${context}: ${tool} ${describeExit(exit)}`);
  return Buffer.concat(chunks);
}
