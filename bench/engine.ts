// Engine benchmark: our API against Python PyTorch on the same libtorch, same machine, same run.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as torch from '../src/torch/index.ts';
import { printTable, timeMs, writeResult } from './timing.ts';

function attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor): torch.Tensor {
  const s = torch.matmul(q.mul(q.size(-1) ** -0.5), k.transpose(-1, -2));
  const p = s.dtype === 'f32' ? s.softmax(-1) : s.softmax(-1, 'f32').to(v.dtype);
  return torch.matmul(p, v);
}

function ours(quick: boolean, dtypes: ('f32' | 'bf16')[]): Record<string, number> {
  const reps = quick ? 2 : 10;
  const g = new torch.Generator(0);
  const out: Record<string, number> = {};
  for (const dt of dtypes) {
    torch.scope(() => {
      const x = torch.randn([2, 320, 64, 64], g).to(dt), w = torch.randn([320, 320, 3, 3], g).mul(0.02).to(dt);
      const a = torch.randn([2048, 2048], g).to(dt), b = torch.randn([2048, 2048], g).to(dt);
      const [q, k, v] = [0, 1, 2].map(() => torch.randn([16, 5, 1024, 64], g).to(dt));
      const cases: Record<string, [() => torch.Tensor, torch.Tensor[]]> = {
        conv2d: [() => torch.conv2d(x, w, undefined, 1, 1), [x, w]],
        matmul: [() => torch.matmul(a, b), [a, b]],
        attention: [() => attention(q, k, v), [q, k, v]],
      };
      for (const [op, [f, ins]] of Object.entries(cases)) {
        const r = quick ? 1 : op === 'attention' ? 3 : reps;
        out[`${op}_fwd_${dt}`] = timeMs(() => torch.noGrad(() => torch.scope(() => { f(); })), r);
        out[`${op}_fwdbwd_${dt}`] = timeMs(() => torch.scope(() => {
          for (const t of ins) { t.requiresGrad_(true); t.grad = undefined; }
          f().sum().backward();
        }), r);
        for (const t of ins) { t.grad = undefined; t.requiresGrad_(false); }
      }
    });
  }
  const s1 = torch.ones([1]), s2 = torch.ones([1]);
  const n = quick ? 20000 : 100000;
  out.overhead_add_us = (timeMs(() => { for (let i = 0; i < n; i++) torch.add(s1, s2).dispose(); }, 3) * 1000) / n;
  out.overhead_mul_scalar_us = (timeMs(() => { for (let i = 0; i < n; i++) s1.mul(2).dispose(); }, 3) * 1000) / n;
  return out;
}

export async function run(args: string[]): Promise<void> {
  const quick = args.includes('--quick');
  const threads = torch.getNumThreads();
  // --quick must finish in about a minute: it skips emulated bf16
  const dtypes: ('f32' | 'bf16')[] = quick && !torch.nativeBf16 ? ['f32'] : ['f32', 'bf16'];
  console.log(`engine benchmark (${quick ? 'quick' : 'full'}), ${threads} threads, libtorch ${torch.engineInfo().torchVersion}, dtypes ${dtypes.join('+')}${torch.nativeBf16 ? '' : ' (this CPU has no native bf16: our bf16 GEMMs run in f32, Python PyTorch emulates them)'}`);
  const script = join(dirname(fileURLToPath(import.meta.url)), 'engine_torch.py');
  const py = spawnSync('/usr/bin/python3', [script, String(threads), dtypes.join(','), ...(quick ? ['--quick'] : [])], { encoding: 'utf8' });
  if (py.status !== 0) {
    throw new Error(`Python PyTorch side failed (needs Debian's python3-torch: apt-get install python3-torch):\n${py.stderr}`);
  }
  const theirs = JSON.parse(py.stdout.trim().split('\n').pop()!) as Record<string, number>;
  const mine = ours(quick, dtypes);
  const rows = Object.keys(mine).map((name) => ({
    name, ours_ms: mine[name], torch_ms: theirs[name], ratio: mine[name] / theirs[name],
  }));
  printTable(rows);
  console.log(`wrote ${writeResult('engine', { threads, quick, nativeBf16: torch.nativeBf16, rows })}`);
}
