// Builds native/*.cc into build/torch.node against Debian's libtorch, or $LIBTORCH when set.
// Objects are rebuilt only when their source or headers changed.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
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

// c10d backends (native/distributed.cc): gloo when its headers are there (Debian: libgloo-dev), NCCL only
// for a CUDA libtorch with nccl.h; without them the addon still builds and initProcessGroup says why not.
const glooInc = [libtorch && join(libtorch, 'include'), '/usr/include'].filter(Boolean)
  .find((d) => existsSync(join(d, 'gloo', 'algorithm.h')));
const cudaHome = process.env.CUDA_HOME ?? '/usr/local/cuda';
const ncclInc = libtorch && existsSync(join(libtorch, 'lib', 'libtorch_cuda.so'))
  ? [join(libtorch, 'include'), join(cudaHome, 'include'), '/usr/include'].find((d) => existsSync(join(d, 'nccl.h')))
  : undefined;
const distFlags = [
  ...(glooInc ? ['-DUSE_C10D_GLOO'] : []),
  ...(ncclInc ? ['-DUSE_C10D_NCCL', '-DUSE_CUDA', `-I${ncclInc}`, `-I${join(cudaHome, 'include')}`] : []),
];
const distLibs = ncclInc ? ['-ltorch_cuda'] : [];

const cxxflags = [
  '-std=c++17', '-O2', '-fPIC', '-fvisibility=hidden', '-Wall', '-Wno-unused-parameter',
  '-DNAPI_VERSION=8', '-DNODE_ADDON_API_DISABLE_DEPRECATED', '-DNAPI_CPP_EXCEPTIONS',
  `-I${nodeInclude}`, `-I${napiInclude}`, ...torchInc.map((d) => `-I${d}`), ...distFlags,
];
const headers = readdirSync(src).filter((f) => f.endsWith('.h')).map((f) => statSync(join(src, f)).mtimeMs);
const newestHeader = Math.max(0, ...headers);
const sources = readdirSync(src).filter((f) => f.endsWith('.cc'));

// Changed flags (e.g. gloo headers installed since the last build) rebuild everything; no record yet
// (objects from before flags were recorded) keeps the objects.
const flagsFile = join(out, 'cxxflags.txt');
const flagsChanged = existsSync(flagsFile) && readFileSync(flagsFile, 'utf8') !== cxxflags.join(' ');
const jobs = sources.map((f) => {
  const obj = join(out, f.replace(/\.cc$/, '.o'));
  const stale = flagsChanged || !existsSync(obj) || statSync(obj).mtimeMs < Math.max(statSync(join(src, f)).mtimeMs, newestHeader);
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
writeFileSync(flagsFile, cxxflags.join(' '));
const target = join(out, 'torch.node');
if (queue.length === 0 && jobs.every((j) => !j.stale) && existsSync(target) &&
    jobs.every((j) => statSync(j.obj).mtimeMs <= statSync(target).mtimeMs)) {
  console.log('native addon up to date');
} else {
  // Link to a temporary name and rename: a process loading the addon meanwhile never sees a half-written file.
  const tmp = `${target}.${process.pid}.tmp`;
  execFileSync('g++', ['-shared', '-o', tmp, ...jobs.map((j) => j.obj), ...torchLib,
    '-ltorch', '-ltorch_cpu', '-lc10', ...distLibs, '-Wl,--no-as-needed'], { stdio: 'inherit' });
  renameSync(tmp, target);
  console.log(`linked ${target}${glooInc ? ' (gloo)' : ''}${ncclInc ? ' (nccl)' : ''}`);
}
