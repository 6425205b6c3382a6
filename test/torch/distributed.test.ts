// Multi-process data parallelism: real gloo process groups in child processes started by the launcher.
// This file is also the children's script: with DIST_TEST_CASE set it runs one rank's part and prints
// "RESULT <json>"; the tests parse those lines and check them against hand-computed values.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import * as torch from '../../src/torch/index.ts';
import * as dist from '../../src/torch/distributed.ts';
import { Linear, SiLU, Sequential, SGD } from '../../src/nn/index.ts';
import { launch } from '../../src/train/launch.ts';
import { freePort } from '../../src/util/free-port.ts';
import { assertClose } from './helpers.ts';

const SELF = fileURLToPath(import.meta.url);
const EXEC_ARGV = ['--import', 'tsx'];

// ---- the shared model problem: 8 samples, rank r of 2 takes rows [4r, 4r + 4) ----
const X = Array.from({ length: 8 }, (_, i) => Array.from({ length: 4 }, (_, j) => Math.sin(4 * i + j)));
const Y = Array.from({ length: 8 }, (_, i) => [Math.cos(i), Math.cos(i + 1)]);
const LR = 0.1;
const STEPS = 2;

function makeModel(): Sequential {
  return new Sequential([new Linear(4, 3), new SiLU(), new Linear(3, 2)]);
}

/** STEPS of SGD on rows [from, to); with allReduce the gradients are averaged over ranks first. */
function train(model: Sequential, from: number, to: number, allReduce: boolean): void {
  const opt = new SGD(model.parameters(), { lr: LR });
  for (let s = 0; s < STEPS; s++) {
    torch.scope(() => {
      const loss = torch.mseLoss(model.forward(torch.tensor(X.slice(from, to))), torch.tensor(Y.slice(from, to)));
      loss.backward();
    });
    // Tiny buckets: one tensor alone (48 bytes) and several together, both paths of the bucketing.
    if (allReduce) dist.allReduceGradients(model.parameters(), { bucketBytes: 40 });
    opt.step();
    opt.zeroGrad();
  }
}

const paramsOf = (m: Sequential): number[][] => m.parameters().map((p) => p.toArray());
const sleep = (ms: number): void => { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms); };
function waitForFile(path: string): void {
  for (let i = 0; i < 600 && !existsSync(path); i++) sleep(100);
}
const result = (o: unknown): void => console.log(`RESULT ${JSON.stringify(o)}`);

// ---- child side ----
function runCase(name: string): void {
  const dir = process.env.DIST_TEST_DIR!;
  if (name === 'timeout') {
    // One process alone: as rank 0 it waits for a worker that never comes; as rank 1 for a server that is not there.
    const port = Number(process.env.DIST_TEST_PORT);
    const messages: string[] = [];
    for (const rank of [0, 1]) {
      try {
        dist.initProcessGroup({ backend: 'gloo', rank, worldSize: 2, masterAddr: '127.0.0.1', masterPort: port, timeoutMs: 1500 });
        messages.push('no error');
      } catch (e) {
        messages.push((e as Error).message);
      }
    }
    result({ messages, initialized: dist.isInitialized() });
    return;
  }
  const env = dist.fromEnv({ timeoutMs: name === 'stall' ? 8000 : 60_000 });
  if (!env) throw new Error('worker started without WORLD_SIZE');
  dist.initProcessGroup(env);
  const rank = dist.getRank();
  if (name === 'collectives') {
    const sum = dist.allReduce(torch.tensor([rank + 1, 10 * (rank + 1), -rank]), 'sum').toArray();
    const avg = dist.allReduce(torch.tensor([rank + 1, 10 * (rank + 1), -rank]), 'avg').toArray();
    const max = dist.allReduce(torch.tensor([rank, 5 - rank]), 'max').toArray();
    // A strided (transposed) tensor is reduced in place too.
    const strided = torch.tensor([[1, 2, 3], [4, 5, 6]]).mul(rank + 1).transpose(0, 1);
    dist.allReduce(strided, 'sum');
    const bcast = dist.broadcast(rank === 1 ? torch.tensor([7, 8, 9]) : torch.zeros([3]), 1).toArray();
    // Barrier: rank 1 writes a file late, rank 0 looks for it only after the barrier.
    if (rank === 1) {
      sleep(300);
      writeFileSync(join(dir, 'before-barrier'), 'x');
    }
    dist.barrier();
    const sawFile = existsSync(join(dir, 'before-barrier'));
    // Data parallel SGD: rank 1 starts from other weights; broadcastParameters makes them rank 0's.
    const model = makeModel();
    if (rank === 1) torch.noGrad(() => { for (const p of model.parameters()) p.add_(1); });
    dist.broadcastParameters(model.parameters(), 0);
    const initial = paramsOf(model);
    train(model, 4 * rank, 4 * rank + 4, true);
    result({ rank, worldSize: dist.getWorldSize(), localRank: env.localRank, sum, avg, max,
      strided: strided.toArray(), bcast, sawFile, initial, final: paramsOf(model) });
    dist.destroyProcessGroup();
  } else if (name === 'fail') {
    if (rank === 0) {
      process.on('SIGTERM', () => console.log('ignoring SIGTERM'));  // so the launcher has to escalate to SIGKILL
      writeFileSync(join(dir, 'pid'), String(process.pid));
      sleep(120_000);  // a long step; only the launcher can end it early
      console.log('woke');
    } else {
      waitForFile(join(dir, 'pid'));
      throw new Error('boom on rank 1');
    }
  } else if (name === 'stall' || name === 'exit') {
    dist.barrier();
    if (rank === 1 && name === 'exit') process.exit(0);  // leaves without a word, in the middle of the job
    if (rank === 0) {
      // Rank 1 never joins this all-reduce: its exit or the group's timeout must turn it into an error.
      let message = 'no error';
      try {
        dist.allReduce(torch.tensor([1]), 'sum');
      } catch (e) {
        message = (e as Error).message;
      }
      result({ message });
      writeFileSync(join(dir, 'done'), 'x');
    } else {
      waitForFile(join(dir, 'done'));
    }
  }
}

// ---- parent side ----
class Collect extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

/**
 * Runs a case in 2 processes: one launcher with nproc 2, or (nodes 2) two launchers with nproc 1 each,
 * set up as two machines are (NNODES, NODE_RANK, MASTER_ADDR, MASTER_PORT).
 */
async function launchCase(name: string, nodes: 1 | 2 = 1) {
  const dir = mkdtempSync(join(tmpdir(), 'dist-test-'));
  const stdout = new Collect();
  const stderr = new Collect();
  try {
    const env = { ...process.env, NODE_TEST_CONTEXT: undefined, DIST_TEST_CASE: name, DIST_TEST_DIR: dir };
    const base = { args: [], script: SELF, execArgv: EXEC_ARGV, stdout, stderr, killGraceMs: 2000 };
    const port = String(await freePort());
    const codes = nodes === 1
      ? [await launch({ ...base, nproc: 2, env })]
      : await Promise.all([0, 1].map((node) => launch({
        ...base, nproc: 1, env: { ...env, NNODES: '2', NODE_RANK: String(node), MASTER_ADDR: '127.0.0.1', MASTER_PORT: port },
      })));
    const code = codes.find((c) => c !== 0) ?? 0;
    const results = new Map<number, Record<string, unknown>>();
    for (const m of stdout.text.matchAll(/^\[rank (\d+)\] RESULT (.*)$/gm)) results.set(Number(m[1]), JSON.parse(m[2]));
    const pidFile = join(dir, 'pid');
    return { code, results, stdout: stdout.text, stderr: stderr.text, pid: existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : undefined };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.env.DIST_TEST_CASE) {
  runCase(process.env.DIST_TEST_CASE);
} else {
  describe('distributed (gloo, 2 processes)', { timeout: 180_000 }, () => {
    it('all-reduce, broadcast, barrier and data-parallel SGD equal to one process with the whole batch', async () => {
      await checkCollectives(1);
    });

    it('the same across two "machines" (two launchers, NNODES=2, NODE_RANK, MASTER_ADDR/PORT)', async () => {
      await checkCollectives(2);
    });

    async function checkCollectives(nodes: 1 | 2): Promise<void> {
      const r = await launchCase('collectives', nodes);
      assert.equal(r.code, 0, r.stderr);
      for (const rank of [0, 1]) {
        const o = r.results.get(rank) as Record<string, number[] | number | boolean>;
        assert.ok(o, `no result from rank ${rank}:\n${r.stdout}\n${r.stderr}`);
        assert.equal(o.rank, rank);
        assert.equal(o.worldSize, 2);
        assert.equal(o.localRank, nodes === 1 ? rank : 0);
        // rank 0 holds [1, 10, 0], rank 1 [2, 20, -1]
        assertClose(o.sum as number[], [3, 30, -1], 0);
        assertClose(o.avg as number[], [1.5, 15, -0.5], 0);
        assertClose(o.max as number[], [1, 5], 0);
        // transpose of [[1,2,3],[4,5,6]] * (1 + 2)
        assertClose((o.strided as unknown as number[][]).flat(), [3, 12, 6, 15, 9, 18], 0);
        assertClose(o.bcast as number[], [7, 8, 9], 0);
      }
      assert.equal(r.results.get(0)!.sawFile, true, 'rank 0 passed the barrier before rank 1 reached it');
      const [a, b] = [r.results.get(0)!, r.results.get(1)!] as { initial: number[][]; final: number[][] }[];
      // broadcastParameters: rank 1 had rank 0's weights + 1 before it.
      assert.deepEqual(b.initial, a.initial);
      // The reference: one process, the whole batch, same starting weights, no communication.
      const ref = makeModel();
      torch.noGrad(() => ref.parameters().forEach((p, i) => p.copy_(torch.tensor(a.initial[i]).view(p.shape))));
      train(ref, 0, 8, false);
      const expected = paramsOf(ref);
      for (const o of [a, b]) {
        o.final.forEach((p, i) => assertClose(p.flat(), expected[i].flat(), 1e-6, `param ${i}`));
      }
      // The step really moved the weights (the comparison is not trivially between initial values).
      assert.ok(Math.abs(expected[0].flat()[0] - a.initial[0].flat()[0]) > 1e-4);
    }

    it('a failing rank makes the launcher stop the others (SIGKILL when SIGTERM is ignored) and return non-zero', async () => {
      const r = await launchCase('fail');
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /^\[rank 1\] .*boom on rank 1/m);
      assert.match(r.stderr, /\[launch\] rank 1 failed \(exit code 1\)/);
      assert.ok(r.pid, `rank 0 wrote no pid:\n${r.stdout}\n${r.stderr}`);
      assert.throws(() => process.kill(r.pid!, 0), { code: 'ESRCH' }, 'rank 0 is still running');
      assert.doesNotMatch(r.stdout, /woke/, 'rank 0 finished its sleep instead of being stopped');
    });

    it('a peer that does not take part in a collective gives a timeout error, not a hang', async () => {
      const r = await launchCase('stall');
      assert.equal(r.code, 0, r.stderr);
      const { message } = r.results.get(0) as { message: string };
      assert.match(message, /^allReduce f32\[1\] on rank 0: .*tim(ed )?e(d)? ?out/i);
    });

    it('a peer that exits during the job gives an error on the next collective, not a hang', async () => {
      const r = await launchCase('exit');
      assert.equal(r.code, 0, r.stderr);
      const { message } = r.results.get(0) as { message: string };
      assert.match(message, /^allReduce f32\[1\] on rank 0: .*(closed|reset|timed out)/i);
    });
  });

  describe('distributed rendezvous errors', { timeout: 60_000 }, () => {
    it('a missing peer is a timeout error for the host and for a worker', async () => {
      const port = await freePort();
      const stdout = await new Promise<string>((resolve, reject) => {
        execFile(process.execPath, [...EXEC_ARGV, SELF], {
          env: { ...process.env, NODE_TEST_CONTEXT: undefined, DIST_TEST_CASE: 'timeout', DIST_TEST_PORT: String(port), DIST_TEST_DIR: tmpdir() },
        }, (err, out, errOut) => (err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(out)));
      });
      const { messages, initialized } = JSON.parse(/^RESULT (.*)$/m.exec(stdout)![1]) as { messages: string[]; initialized: boolean };
      assert.match(messages[0], new RegExp(`^initProcessGroup\\(gloo, rank 0 of 2, 127\\.0\\.0\\.1:${port}\\): .*tim(ed )?e(d)? ?out`, 'i'));
      assert.match(messages[1], new RegExp(`^initProcessGroup\\(gloo, rank 1 of 2, 127\\.0\\.0\\.1:${port}\\): .*tim(ed )?e(d)? ?out`, 'i'));
      assert.equal(initialized, false);
    });
  });

  describe('distributed in one process', () => {
    it('without a group: rank 0 of 1, collectives say why they cannot run', () => {
      assert.equal(dist.isInitialized(), false);
      assert.equal(dist.getRank(), 0);
      assert.equal(dist.getWorldSize(), 1);
      assert.throws(() => dist.allReduce(torch.tensor([1])), /allReduce: no process group; call initProcessGroup\(\) first/);
      assert.throws(() => dist.barrier(), /barrier: no process group/);
    });

    it('rejects a bad rank, world size or port before connecting', () => {
      const base = { backend: 'gloo' as const, masterAddr: '127.0.0.1', masterPort: 29500 };
      assert.throws(() => dist.initProcessGroup({ ...base, rank: 2, worldSize: 2 }), /rank must be an integer in \[0, 1\], got 2/);
      assert.throws(() => dist.initProcessGroup({ ...base, rank: 0, worldSize: 0 }), /worldSize must be an integer in \[1, \d+\], got 0/);
      assert.throws(() => dist.initProcessGroup({ ...base, rank: 0, worldSize: 1, masterPort: 70000 }), /masterPort must be an integer in \[1, 65535\], got 70000/);
      assert.throws(() => dist.initProcessGroup({ ...base, backend: 'mpi' as 'gloo', rank: 0, worldSize: 1 }), /backend must be 'gloo' or 'nccl', got 'mpi'/);
      assert.equal(dist.isInitialized(), false);
    });

    it('fromEnv reads the launcher variables and names a bad one', () => {
      assert.equal(dist.fromEnv({ env: {} }), undefined);
      assert.deepEqual(dist.fromEnv({ env: { RANK: '3', WORLD_SIZE: '4', LOCAL_RANK: '1', MASTER_ADDR: 'node0', MASTER_PORT: '29501' } }), {
        backend: 'gloo', rank: 3, worldSize: 4, localRank: 1, masterAddr: 'node0', masterPort: 29501, timeoutMs: undefined,
      });
      assert.throws(() => dist.fromEnv({ env: { RANK: '0', WORLD_SIZE: '2' } }), /expected MASTER_PORT to be a non-negative integer, found nothing/);
      assert.throws(() => dist.fromEnv({ env: { RANK: 'x', WORLD_SIZE: '2', MASTER_PORT: '1' } }), /expected RANK to be a non-negative integer, found 'x'/);
    });

    it('a group of one: collectives are identities, gradients divided by 1, and it can be re-created', async () => {
      for (let round = 0; round < 2; round++) {
        dist.initProcessGroup({ backend: 'gloo', rank: 0, worldSize: 1, masterAddr: '127.0.0.1', masterPort: await freePort(), timeoutMs: 10_000 });
        assert.equal(dist.getWorldSize(), 1);
        assert.throws(() => dist.initProcessGroup({ backend: 'gloo', rank: 0, worldSize: 1, masterAddr: '127.0.0.1', masterPort: 1 }), /already initialized \(rank 0 of 1\)/);
        assertClose(dist.allReduce(torch.tensor([1.5, -2]), 'avg'), [1.5, -2], 0);
        const p = torch.tensor([1, 2]).requiresGrad_();
        p.mul(torch.tensor([3, 4])).sum().backward();
        dist.allReduceGradients([p]);
        assertClose(p.grad!, [3, 4], 0);
        assert.throws(() => dist.broadcast(torch.tensor([1]), 1), /broadcast: src must be in \[0, 0\], got 1/);
        dist.destroyProcessGroup();
        assert.equal(dist.isInitialized(), false);
      }
    });
  });
}
