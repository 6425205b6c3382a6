// The default location of the weights, the Hugging Face cache: a cache built here by hand in huggingface_hub's
// layout (blobs named by sha256, refs/main, relative snapshot links) from the miniature's files, SVD-xt's under
// its own repository as diffusers leaves them, is found by `animate` without --weights and by
// StableAnimator.fromPretrained() through HF_HUB_CACHE; a missing file's error names the command that fetches it.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { after, test } from 'node:test';
import * as torch from '../../src/torch/index.ts';
import { cachedFile, hfHome, hfHubCache, hfToken } from '../../src/io/hf-cache.ts';
import { writeImage } from '../../src/io/image.ts';
import { runAnimate } from '../../src/cli/animate.ts';
import { framesToImages } from '../../src/pipeline/outputs.ts';
import { resolveWeightPaths } from '../../src/pipeline/components.ts';
import { StableAnimator } from '../../src/pipeline/stable-animator.ts';
import { randomImage, randomPoses } from './tiny.ts';

torch.setNumThreads(1);

const tmp = mkdtempSync(join(tmpdir(), 'sa-hf-cache-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const MINI = resolve('weights/mini');
const SVD = 'stable-video-diffusion-img2vid-xt';

/** Puts `file` into the cache as huggingface_hub does: blobs/<sha256>, snapshots/<commit>/<path> -> ../../blobs/<sha256>. */
function putInCache(cache: string, repo: string, commit: string, path: string, file: string): void {
  const repoDir = join(cache, `models--${repo.replace('/', '--')}`);
  const sha = createHash('sha256').update(readFileSync(file)).digest('hex');
  mkdirSync(join(repoDir, 'blobs'), { recursive: true });
  copyFileSync(file, join(repoDir, 'blobs', sha));
  const link = join(repoDir, 'snapshots', commit, path);
  mkdirSync(dirname(link), { recursive: true });
  symlinkSync(relative(dirname(link), join(repoDir, 'blobs', sha)), link);
  mkdirSync(join(repoDir, 'refs'), { recursive: true });
  writeFileSync(join(repoDir, 'refs', 'main'), commit);
}

/** The miniature's files in a cache: Animation/ in the StableAnimator release, SVD-xt's in stabilityai's repository. */
function miniatureCache(cache: string): void {
  for (const f of readdirSync(join(MINI, 'Animation'))) putInCache(cache, 'FrancisRing/StableAnimator', 'a'.repeat(40), `Animation/${f}`, join(MINI, 'Animation', f));
  for (const sub of readdirSync(join(MINI, SVD))) {
    for (const f of readdirSync(join(MINI, SVD, sub))) putInCache(cache, 'stabilityai/stable-video-diffusion-img2vid-xt', 'b'.repeat(40), `${sub}/${f}`, join(MINI, SVD, sub, f));
  }
}

function withEnv<T>(env: Record<string, string | undefined>, fn: () => T): T {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  const restore = () => { for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v; };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  let result: T;
  try {
    result = fn();
  } catch (e) {
    restore();
    throw e;
  }
  if (result instanceof Promise) return result.finally(restore) as T;
  restore();
  return result;
}

test('the cache folder and token follow HF_HUB_CACHE, HF_HOME, XDG_CACHE_HOME and the saved token', () => {
  assert.equal(hfHubCache({ HF_HUB_CACHE: '/c', HF_HOME: '/h' }), '/c');
  assert.equal(hfHubCache({ HUGGINGFACE_HUB_CACHE: '/old' }), '/old');
  assert.equal(hfHubCache({ HF_HOME: '/h' }), '/h/hub');
  assert.equal(hfHome({ XDG_CACHE_HOME: '/x' }), '/x/huggingface');
  assert.match(hfHubCache({}), /\/\.cache\/huggingface\/hub$/);
  const home = join(tmp, 'home');
  mkdirSync(home, { recursive: true });
  assert.equal(hfToken({ HF_HOME: home }), undefined);
  writeFileSync(join(home, 'token'), 'hf_saved\n');
  assert.equal(hfToken({ HF_HOME: home }), 'hf_saved');
  assert.equal(hfToken({ HF_HOME: home, HF_TOKEN: 'hf_env' }), 'hf_env');
});

test('a cache in the Hugging Face layout is found: each file from the repository that publishes it', () => {
  const cache = join(tmp, 'cache-paths');
  miniatureCache(cache);
  withEnv({ HF_HUB_CACHE: cache }, () => {
    const paths = resolveWeightPaths(undefined, {}, { hjb: true });
    assert.equal(paths.unet, join(cache, 'models--FrancisRing--StableAnimator', 'snapshots', 'a'.repeat(40), 'Animation', 'unet.safetensors'));
    assert.equal(paths.arcface, join(cache, 'models--FrancisRing--StableAnimator', 'snapshots', 'a'.repeat(40), 'Animation', 'face_id.safetensors'));
    assert.equal(paths.vaeDir, join(cache, 'models--stabilityai--stable-video-diffusion-img2vid-xt', 'snapshots', 'b'.repeat(40), 'vae'));
    assert.deepEqual(readFileSync(join(paths.vaeDir, 'config.json')), readFileSync(join(MINI, SVD, 'vae', 'config.json')));
    // SVD-xt's files in the StableAnimator release are found when stabilityai's repository is not cached
    rmSync(join(cache, 'models--stabilityai--stable-video-diffusion-img2vid-xt', 'refs'), { recursive: true });
    assert.throws(() => resolveWeightPaths(undefined), /missing weights in the Hugging Face cache \(.*cache-paths\):\n {2}stable-video-diffusion-img2vid-xt\/unet\/config\.json/);
    for (const sub of readdirSync(join(MINI, SVD))) {
      for (const f of readdirSync(join(MINI, SVD, sub))) putInCache(cache, 'FrancisRing/StableAnimator', 'a'.repeat(40), `${SVD}/${sub}/${f}`, join(MINI, SVD, sub, f));
    }
    const release = join(cache, 'models--FrancisRing--StableAnimator', 'snapshots', 'a'.repeat(40));
    assert.equal(resolveWeightPaths(undefined).vaeDir, join(release, SVD, 'vae'));
    assert.equal(cachedFile('FrancisRing/StableAnimator', `${SVD}/scheduler/scheduler_config.json`), join(release, SVD, 'scheduler', 'scheduler_config.json'));
  });
});

test('a missing file: the error names it and the exact command that fetches it; a dangling link is missing', () => {
  const cache = join(tmp, 'cache-missing');
  miniatureCache(cache);
  withEnv({ HF_HUB_CACHE: cache }, () => {
    const snapshot = join(cache, 'models--FrancisRing--StableAnimator', 'snapshots', 'a'.repeat(40));
    unlinkSync(join(snapshot, 'Animation', 'pose_net.safetensors'));
    // the blob of the UNet is gone: its link dangles
    const blobs = join(cache, 'models--FrancisRing--StableAnimator', 'blobs');
    const unetBlob = createHash('sha256').update(readFileSync(join(MINI, 'Animation', 'unet.safetensors'))).digest('hex');
    rmSync(join(blobs, unetBlob));
    assert.throws(() => resolveWeightPaths(undefined), (e: Error) => {
      assert.match(e.message, /^missing weights in the Hugging Face cache \(.*cache-missing\):\n {2}Animation\/pose_net\.pth \(PoseNet\)\n {2}Animation\/unet\.pth /);
      assert.match(e.message, /\nfetch them with:\n {2}stable-animator weights download --file Animation\/pose_net\.pth --file Animation\/unet\.pth$/);
      return true;
    });
  });
  // a folder: the command names it (quoted for the shell where needed)
  const folder = join(tmp, 'my weights');
  mkdirSync(join(folder, 'Animation'), { recursive: true });
  symlinkSync(join(MINI, SVD), join(folder, SVD));
  for (const f of ['face_encoder.safetensors', 'unet.safetensors', 'face_id.safetensors']) symlinkSync(join(MINI, 'Animation', f), join(folder, 'Animation', f));
  assert.throws(() => resolveWeightPaths(folder), /fetch them with:\n {2}stable-animator weights download '.*my weights' --file Animation\/pose_net\.pth$/);
  // many missing: the default selection, which holds them all
  assert.throws(() => resolveWeightPaths(join(tmp, 'nothing')), /fetch them with:\n {2}stable-animator weights download .*nothing$/);
});

test('animate without --weights and StableAnimator.fromPretrained() load from the cache: the same video as from the folder', async () => {
  const cache = join(tmp, 'cache-animate');
  miniatureCache(cache);
  const ref = join(tmp, 'ref.png');
  const skeletons = join(tmp, 'skeletons');
  await writeImage(ref, framesToImages(randomImage(128, 128, 1).add(1).div(2))[0]!);
  for (const [i, img] of framesToImages(randomPoses(3, 128, 128, 2).add(1).div(2)).entries()) await writeImage(join(skeletons, `frame_${i}.png`), img);
  // the cache holds no miniature.json: the miniature's size and window are given
  const args = (out: string) => ['--ref', ref, '--driving', skeletons, '-o', out, '--size', '128x128', '--tile-size', '4', '--tile-overlap', '2', '--steps', '1', '--seed', '5'];
  const logs: string[] = [];
  const quietly = async (a: string[]) => {
    const write = process.stderr.write;
    process.stderr.write = (() => true) as typeof process.stderr.write;
    try {
      return await runAnimate(a, (m) => logs.push(m));
    } finally {
      process.stderr.write = write;
    }
  };
  await withEnv({ HF_HUB_CACHE: cache }, () => quietly(args(join(tmp, 'from-cache'))));
  await quietly([...args(join(tmp, 'from-folder')), '--weights', MINI]);
  const frames = (d: string) => readdirSync(d).sort().map((f) => readFileSync(join(d, f)));
  assert.equal(frames(join(tmp, 'from-cache')).length, 3);
  assert.deepEqual(frames(join(tmp, 'from-cache')), frames(join(tmp, 'from-folder')));
  // the library, without a folder
  const animator = withEnv({ HF_HUB_CACHE: cache }, () => StableAnimator.fromPretrained());
  assert.equal(animator.weights.dir, undefined);
  assert.ok(animator.paths.poseNet.startsWith(join(cache, 'models--FrancisRing--StableAnimator', 'snapshots')));
  assert.ok(animator.paths.imageEncoderDir.startsWith(join(cache, 'models--stabilityai--stable-video-diffusion-img2vid-xt', 'snapshots')));
  // an empty cache: refused before any model loads, with the command
  await assert.rejects(withEnv({ HF_HUB_CACHE: join(tmp, 'empty-cache') }, () => quietly(args(join(tmp, 'none')))),
    /missing weights in the Hugging Face cache \(.*empty-cache\)[\s\S]*fetch them with:\n {2}stable-animator weights download$/);
});
