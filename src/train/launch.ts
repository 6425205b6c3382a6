// Starts N ranks of the same command on this machine (like torchrun): each child gets RANK, WORLD_SIZE,
// LOCAL_RANK, MASTER_ADDR and MASTER_PORT, its output is prefixed with [rank i], and the first child that
// fails takes the others down, so a crashed rank never leaves its peers waiting in a collective.
// Several machines: set NNODES, NODE_RANK, MASTER_ADDR and MASTER_PORT on each (docs/training.md).
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from '../util/free-port.ts';
import os from 'node:os';

export interface LaunchOptions {
  /** Processes on this machine. */
  nproc: number;
  /** Arguments after the script (the children's command line, without --nproc). */
  args: string[];
  /** Base environment of the children (default process.env); also read for NNODES, NODE_RANK, MASTER_*. */
  env?: NodeJS.ProcessEnv;
  /** Script the children run (default: this process's main script, i.e. the same CLI). */
  script?: string;
  /** Node flags of the children (default: this process's, e.g. --import tsx, without test/inspect flags). */
  execArgv?: string[];
  /** Where prefixed output goes (default process.stdout / process.stderr). */
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  /** How long a child asked to stop (SIGTERM) gets before SIGKILL. */
  killGraceMs?: number;
}

function envInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 0) throw new Error(`launch: expected ${name} to be a non-negative integer, found '${raw}'`);
  return v;
}

/** Copies a child's stream to out line by line, each line prefixed. */
function prefixLines(from: NodeJS.ReadableStream, out: NodeJS.WritableStream, prefix: string): Promise<void> {
  return new Promise((resolve) => {
    let pending = '';
    from.setEncoding('utf8');
    from.on('data', (chunk: string) => {
      const lines = (pending + chunk).split('\n');
      pending = lines.pop()!;
      for (const l of lines) out.write(`${prefix}${l}\n`);
    });
    from.on('end', () => {
      if (pending) out.write(`${prefix}${pending}\n`);
      resolve();
    });
  });
}

/**
 * Runs the ranks and resolves with 0 when all succeed, else with the exit code of the first rank that
 * failed (1 when it died of a signal), after the others were stopped.
 */
export async function launch(opts: LaunchOptions): Promise<number> {
  const { nproc } = opts;
  if (!Number.isInteger(nproc) || nproc < 1) throw new RangeError(`launch: nproc must be a positive integer, got ${nproc}`);
  const base = opts.env ?? process.env;
  const nnodes = envInt(base, 'NNODES', 1);
  const nodeRank = envInt(base, 'NODE_RANK', 0);
  if (nnodes < 1 || nodeRank >= nnodes) throw new RangeError(`launch: NODE_RANK must be in [0, ${nnodes - 1}], found ${nodeRank}`);
  if (nnodes > 1 && (!base.MASTER_ADDR || !base.MASTER_PORT)) {
    throw new Error('launch: NNODES > 1 needs MASTER_ADDR and MASTER_PORT (the address of node 0) on every node');
  }
  const masterAddr = base.MASTER_ADDR || '127.0.0.1';
  const masterPort = base.MASTER_PORT ? envInt(base, 'MASTER_PORT', 0) : await freePort(masterAddr);
  const script = opts.script ?? process.argv[1];
  const execArgv = opts.execArgv ?? process.execArgv.filter((a) => !/^--(test|inspect|watch)/.test(a));
  const stdout = opts.stdout ?? process.stdout;
  const stderr = opts.stderr ?? process.stderr;
  const grace = opts.killGraceMs ?? 5000;
  // Share the cores instead of every rank starting one thread per core (as torchrun's OMP_NUM_THREADS).
  const threads = String(Math.max(1, Math.floor(os.availableParallelism() / nproc)));

  const children: ChildProcess[] = [];
  const outputs: Promise<void>[] = [];
  let failure: { rank: number; code: number } | undefined;
  const stopOthers = (): void => {
    for (const c of children) {
      if (c.exitCode !== null || c.signalCode !== null) continue;
      c.kill('SIGTERM');
      setTimeout(() => { if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL'); }, grace).unref();
    }
  };
  const exits = Array.from({ length: nproc }, (_, local) => {
    const rank = nodeRank * nproc + local;
    const child = spawn(process.execPath, [...execArgv, script, ...opts.args], {
      env: {
        ...base, STABLE_ANIMATOR_THREADS: base.STABLE_ANIMATOR_THREADS ?? threads,
        RANK: String(rank), LOCAL_RANK: String(local), WORLD_SIZE: String(nnodes * nproc),
        MASTER_ADDR: masterAddr, MASTER_PORT: String(masterPort),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    outputs.push(prefixLines(child.stdout!, stdout, `[rank ${rank}] `), prefixLines(child.stderr!, stderr, `[rank ${rank}] `));
    return new Promise<void>((resolve) => {
      child.on('error', (e) => {
        stderr.write(`[launch] rank ${rank} could not start: ${e.message}\n`);
      });
      child.on('close', (code, signal) => {
        if ((code !== 0 || signal) && !failure) {
          failure = { rank, code: code || 1 };
          stderr.write(`[launch] rank ${rank} failed (${signal ? `signal ${signal}` : `exit code ${code}`}); stopping the other ranks\n`);
          stopOthers();
        }
        resolve();
      });
    });
  });
  // Ctrl-C or a kill of the launcher stops the ranks too.
  const onSignal = (sig: NodeJS.Signals): void => {
    if (!failure) failure = { rank: -1, code: sig === 'SIGINT' ? 130 : 143 };
    stopOthers();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await Promise.all(exits);
    await Promise.all(outputs);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return failure ? failure.code : 0;
}
