// Builds native/*.cc into build/torch.node against Debian's libtorch, or $LIBTORCH when set.
// Objects are rebuilt only when their source or headers changed.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'native');
const out = join(root, 'build');
mkdirSync(out, { recursive: true });

const nodeInclude = [join(dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node']
  .find((d) => existsSync(join(d, 'node_api.h')));
if (!nodeInclude) throw new Error('Node headers (node_api.h) not found next to ' + process.execPath);
const napiInclude = join(root, 'node_modules', 'node-addon-api');

const libtorch = process.env.LIBTORCH;
const torchInc = libtorch
  ? [join(libtorch, 'include'), join(libtorch, 'include', 'torch', 'csrc', 'api', 'include')]
  : ['/usr/include/torch/csrc/api/include'];
const torchLib = libtorch ? [`-L${join(libtorch, 'lib')}`, `-Wl,-rpath,${join(libtorch, 'lib')}`] : [];
for (const d of torchInc) {
  if (!existsSync(d)) {
    throw new Error(`libtorch headers not found at ${d}: install them with 'apt-get install libtorch-dev' or set LIBTORCH=/path/to/libtorch`);
  }
}

const cxxflags = [
  '-std=c++17', '-O2', '-fPIC', '-fvisibility=hidden', '-Wall', '-Wno-unused-parameter',
  '-DNAPI_VERSION=8', '-DNODE_ADDON_API_DISABLE_DEPRECATED', '-DNAPI_CPP_EXCEPTIONS',
  `-I${nodeInclude}`, `-I${napiInclude}`, ...torchInc.map((d) => `-I${d}`),
];
const headers = readdirSync(src).filter((f) => f.endsWith('.h')).map((f) => statSync(join(src, f)).mtimeMs);
const newestHeader = Math.max(0, ...headers);
const sources = readdirSync(src).filter((f) => f.endsWith('.cc'));

const jobs = sources.map((f) => {
  const obj = join(out, f.replace(/\.cc$/, '.o'));
  const stale = !existsSync(obj) || statSync(obj).mtimeMs < Math.max(statSync(join(src, f)).mtimeMs, newestHeader);
  return { f, obj, stale };
});
const parallel = Math.max(1, os.availableParallelism());
const { spawn } = await import('node:child_process');
const queue = jobs.filter((j) => j.stale);
async function worker() {
  for (let j = queue.shift(); j; j = queue.shift()) {
    const job = j;
    console.log(`compile ${job.f}`);
    await new Promise((resolve, reject) => {
      const p = spawn('g++', [...cxxflags, '-c', join(src, job.f), '-o', job.obj], { stdio: 'inherit' });
      p.on('exit', (code) => (code === 0 ? resolve(undefined) : reject(new Error(`g++ failed on ${job.f}`))));
    });
  }
}
await Promise.all(Array.from({ length: parallel }, worker));
const target = join(out, 'torch.node');
if (queue.length === 0 && jobs.every((j) => !j.stale) && existsSync(target) &&
    jobs.every((j) => statSync(j.obj).mtimeMs <= statSync(target).mtimeMs)) {
  console.log('native addon up to date');
} else {
  execFileSync('g++', ['-shared', '-o', target, ...jobs.map((j) => j.obj), ...torchLib,
    '-ltorch', '-ltorch_cpu', '-lc10', '-Wl,--no-as-needed'], { stdio: 'inherit' });
  console.log(`linked ${target}`);
}
