// `stable-animator animate`: a reference photo and driving poses (a video, a keypoint file or a folder of
// skeleton images) -> an animation of the reference person (mp4, gif or PNG frames).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as torch from '../torch/index.ts';
import type { Device, DType } from '../torch/index.ts';
import { readImage } from '../io/image.ts';
import { ALIGN_METHODS, isAlignMethod, type AlignMethod } from '../align/align-frames.ts';
import { ALIGNMENT_CONFIG_FILE, ALIGNMENT_WEIGHTS_FILE, DEFAULT_ALIGN_WEIGHTS, LearnedAlignment } from '../align/learned-alignment.ts';
import type { PoseDetector } from '../pose/detector.ts';
import { openPoseDetector } from '../pose/extract.ts';
import { writePoseImage } from '../pose/render.ts';
import { ANIMATE_DEFAULTS, checkOutputSize, INFERENCE_DEFAULTS, StableAnimatorPipeline, type WindowBlend } from '../pipeline/animate.ts';
import { loadComponents, readWeightsFacts, resolveWeightPaths, untrainedSizeWarning, workingSize, type WeightsFacts } from '../pipeline/components.ts';
import { drivingKind } from '../pipeline/driving.ts';
import { HJB_WINDOWS, type HjbWindowKind } from '../pipeline/hjb.ts';
import { DEFAULT_HJB_MARGIN } from '../pipeline/hjb-window.ts';
import { FIT_MODES, isFitMode, type FitMode } from '../pipeline/framing.ts';
import { framesToImages, outputKind, writeAnimation, writeFrames } from '../pipeline/outputs.ts';
import { prepareDriving, prepareInputs } from '../pipeline/prepare.ts';
import { runAnimateJobs, type JobOptions } from './animate-jobs.ts';
import { parseNumber, parseSize, type NumberKind } from './args.ts';
import { checkOutputPath } from '../io/atomic.ts';
import { LIMITS } from '../io/limits.ts';
import type { Command } from './main.ts';
import { progressBar } from './progress-bar.ts';
import type { PlacementOptions } from '../pipeline/placement.ts';

const USAGE = `stable-animator animate --ref photo.png --driving <video|keypoints.json|dir of skeleton PNGs> [--weights DIR] -o out.mp4
stable-animator animate --jobs jobs.json [--weights DIR]     (many animations, the models loaded once)
      [--width W --height H | --size WxH] [--steps 25] [--guidance G | --guidance-min 3 --guidance-max 3] [--seed 23123134]
      [--tile-size 16] [--tile-overlap 4] [--blend noise|latents] [--noise-aug 0.02] [--decode-chunk 4] [--cond-fps 7]
      [--motion-bucket 127] [--fps R | --stride N] [--fit crop|pad|stretch] [--no-audio]
      [--frames-dir DIR] [--save-poses DIR] [--max-frames N]
      [--hjb] [--hjb-start 0] [--hjb-end 20] [--hjb-iters 3] [--hjb-lr 0.1] [--hjb-window full|face] [--hjb-margin N]
      [--face-masks DIR] [--ref-mask PNG]
      [--align learned|svd|polyfit|none] [--align-weights DIR] [--pose-detector default|dwpose]
      [--dtype f32|bf16|f16] [--device cpu|cuda[:N]] [--threads N]
      [--offload] [--vae-device cpu|cuda[:N]] [--image-encoder-device cpu|cuda[:N]]
      [--unet FILE] [--pose-net FILE] [--face-encoder FILE] [--arcface FILE] [--arcface-onnx FILE] [--svd DIR]

  --weights      a folder laid out as the released checkpoints (Animation/, stable-video-diffusion-img2vid-xt/,
                 models/antelopev2/, DWPose/); single files can be overridden with --unet etc. Default: the Hugging
                 Face cache ($HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub), where
                 \`stable-animator weights download\` puts them and SVD-xt's files from diffusers are found.
  --offload      keep each model on the CPU and move it to --device only while it runs (less accelerator memory,
                 slower); --vae-device / --image-encoder-device run the VAE / CLIP elsewhere (default --device).
  --driving      a video (poses are extracted: --pose-detector), keypoints (our JSON; DWPose dicts as JSON or .npy,
                 or a folder of per-frame .npy/.json files), or a folder of skeleton images (used as they are). Keypoints are aligned to the reference's pose (--align,
                 default learned = StableAnimator++'s alignment; svd = closed-form fit; polyfit = StableAnimator's
                 rule) and drawn at the output size.
  -o             .mp4 (H.264), .gif, or a folder (PNG frames); --frames-dir also writes the PNG frames.
  --fps          the driving input is sampled at this rate and the output plays at it, so it lasts as long as the
                 driving video; default the rate the weights were trained at (released: 7.5, the miniature: 5).
                 --stride N: every N-th driving frame instead, played at the driving rate / N. A skeleton folder
                 or a keypoint file without a rate has every (N-th) frame played at --fps.
  --no-audio     the driving video's audio is copied into an .mp4 output (cut to its length) unless this is given.
  size           multiples of 64; default the size the weights were trained at nearest the reference's aspect
                 (released: 512x512 or 576x1024; a miniature: its own); --width or --height alone: the other side
                 follows the reference's aspect. Other sizes than the trained ones are warned about.
  --fit          how the reference fills that size: crop (default; around the person, nobody is stretched), pad
                 (grey margins) or stretch; the driving poses go through the same transform.
  --cond-fps     the frame rate the model is conditioned on (SVD's micro-conditioning; was --fps before).
  --jobs FILE    many animations with the models loaded once: stable-animator animate --jobs jobs.json --weights DIR
                 (docs/pipeline.md, Batches of jobs).
  guidance       frame-wise from --guidance-min to --guidance-max (both 3.0 by default); 1.0 = one pass, no CFG.
  --blend        noise: blend window noise predictions with triangular weights (reference); latents: average
                 each window's step (ControlNeXt).
  --hjb          HJB face optimisation on steps --hjb-start..--hjb-end (inclusive); face boxes from the aligned
                 driving keypoints, or --face-masks (one mask image per frame, white = face).
  --hjb-window   full (default): decode whole frames (the reference); face: decode only a latent window around the
                 faces (--hjb-margin latent pixels around them, default ${DEFAULT_HJB_MARGIN}) and skip frames without a
                 face: several times faster, approximate gradient (docs/pipeline.md, HJB face window).
  --dtype        of the UNet, CLIP, PoseNet, Face Encoder (default f32 on CPU, bf16 on CUDA); the VAE stays f32.`;

const OPTIONS = {
  ref: { type: 'string' }, driving: { type: 'string' }, weights: { type: 'string' }, output: { type: 'string', short: 'o' },
  width: { type: 'string' }, height: { type: 'string' }, size: { type: 'string' }, steps: { type: 'string' },
  guidance: { type: 'string' }, 'guidance-min': { type: 'string' }, 'guidance-max': { type: 'string' }, seed: { type: 'string' },
  'tile-size': { type: 'string' }, 'tile-overlap': { type: 'string' }, blend: { type: 'string' }, 'noise-aug': { type: 'string' },
  'decode-chunk': { type: 'string' }, fps: { type: 'string' }, stride: { type: 'string' }, 'cond-fps': { type: 'string' },
  'motion-bucket': { type: 'string' }, 'out-fps': { type: 'string' }, fit: { type: 'string' }, 'no-audio': { type: 'boolean' }, jobs: { type: 'string' },
  'frames-dir': { type: 'string' }, 'save-poses': { type: 'string' }, 'max-frames': { type: 'string' },
  hjb: { type: 'boolean' }, 'hjb-start': { type: 'string' }, 'hjb-end': { type: 'string' }, 'hjb-iters': { type: 'string' },
  'hjb-lr': { type: 'string' }, 'hjb-window': { type: 'string' }, 'hjb-margin': { type: 'string' }, 'face-masks': { type: 'string' }, 'ref-mask': { type: 'string' },
  align: { type: 'string' }, 'align-weights': { type: 'string' }, 'pose-detector': { type: 'string' },
  dtype: { type: 'string' }, device: { type: 'string' }, threads: { type: 'string' },
  offload: { type: 'boolean' }, 'vae-device': { type: 'string' }, 'image-encoder-device': { type: 'string' },
  unet: { type: 'string' }, 'pose-net': { type: 'string' }, 'face-encoder': { type: 'string' }, arcface: { type: 'string' },
  'arcface-onnx': { type: 'string' }, svd: { type: 'string' },
} as const;

type Values = Record<string, string | boolean | undefined>;

const num = (values: Values, name: string, kind: NumberKind, fallback: number): number => parseNumber(name, values[name], kind, fallback);

/** The output size: --size, --width/--height, or the weights' trained size nearest the reference's aspect (components.ts workingSize). */
export function outputSize(values: Values, refWidth: number, refHeight: number, facts: WeightsFacts = readWeightsFacts(undefined)): [number, number] {
  const size = typeof values.size === 'string' ? parseSize(values.size) : workingSize(facts, refWidth, refHeight, {
    width: values.width !== undefined ? num(values, 'width', 'posint', 0) : undefined,
    height: values.height !== undefined ? num(values, 'height', 'posint', 0) : undefined,
  });
  checkOutputSize(...size);
  return size;
}

/** --fps / --stride, --fit, --no-audio: how the driving input is sampled and the reference framed. */
export function timingOptions(values: Values): { fps?: number; stride?: number; fit: FitMode; audio: boolean } {
  if (values['out-fps'] !== undefined) {
    throw new Error('--out-fps was replaced by --fps: the driving input is sampled at that rate and the output plays at it (--stride N for every N-th frame)');
  }
  const fit = (values.fit ?? 'crop') as string;
  if (!isFitMode(fit)) throw new Error(`--fit must be one of ${FIT_MODES.join(', ')}, got '${fit}'`);
  return {
    ...(values.fps !== undefined ? { fps: num(values, 'fps', 'nonneg', 0) } : {}),
    ...(values.stride !== undefined ? { stride: num(values, 'stride', 'posint', 1) } : {}),
    fit, audio: !values['no-audio'],
  };
}

export function parseDevice(text: string | undefined, option = '--device'): Device {
  if (text === undefined || text === 'cpu') return 'cpu';
  if (text === 'cuda' || /^cuda:\d+$/.test(text)) return (text === 'cuda' ? 'cuda:0' : text) as Device;
  throw new Error(`${option} must be cpu, cuda or cuda:N, got '${text}'`);
}

/** --offload, --vae-device, --image-encoder-device: where the models run (pipeline/placement.ts). */
function placementOptions(values: Values, device: Device): PlacementOptions {
  const other = (name: string) => (typeof values[name] === 'string' ? parseDevice(values[name] as string, `--${name}`) : undefined);
  return { device, offload: !!values.offload, vaeDevice: other('vae-device'), imageEncoderDevice: other('image-encoder-device') };
}

export function parseDtype(text: string | undefined, device: Device): DType {
  if (text === undefined) return device === 'cpu' ? 'f32' : 'bf16';
  if (text === 'f32' || text === 'bf16' || text === 'f16') return text;
  throw new Error(`--dtype must be f32, bf16 or f16, got '${text}'`);
}

/** The learned alignment's folder: --align-weights, <weights>/Alignment, or the shipped one; undefined when none exists. */
function alignmentFolder(values: Values): string | undefined {
  const has = (d: string) => existsSync(join(d, ALIGNMENT_CONFIG_FILE)) && existsSync(join(d, ALIGNMENT_WEIGHTS_FILE));
  if (typeof values['align-weights'] === 'string') {
    if (!has(values['align-weights'])) throw new Error(`--align-weights ${values['align-weights']}: expected ${ALIGNMENT_CONFIG_FILE} and ${ALIGNMENT_WEIGHTS_FILE} in it`);
    return values['align-weights'];
  }
  return [typeof values.weights === 'string' ? join(values.weights, 'Alignment') : undefined, DEFAULT_ALIGN_WEIGHTS].find((d) => d && has(d));
}

export async function runAnimate(args: string[], log: (m: string) => void = (m) => console.error(m)): Promise<number> {
  const { values } = parseArgs({ args, options: OPTIONS, allowPositionals: false });
  if (values.jobs) return runJobsFile(values.jobs, values, log);
  // 1. Arguments
  if (!values.ref || !values.driving || !values.output) throw new Error(`--ref, --driving and -o are required\n\nusage: ${USAGE}`);
  const output = values.output;
  checkOutputPath(output, outputKind(output) === 'png' ? 'folder' : 'file');
  if (values['frames-dir']) checkOutputPath(values['frames-dir'], 'folder', '--frames-dir');
  const device = parseDevice(values.device);
  const dtype = parseDtype(values.dtype, device);
  const placement = placementOptions(values, device);
  if (values.hjb && placement.vaeDevice !== undefined && placement.vaeDevice !== device) throw new Error(`--hjb needs the VAE where the UNet runs: --vae-device ${placement.vaeDevice} differs from --device ${device}`);
  if (values.threads !== undefined) torch.setNumThreads(num(values, 'threads', 'posint', 1));
  const align = (values.align ?? 'learned') as AlignMethod;
  if (!isAlignMethod(align)) throw new Error(`--align must be one of ${ALIGN_METHODS.join(', ')}, got '${values.align}'`);
  const blend = (values.blend ?? 'noise') as WindowBlend;
  if (blend !== 'noise' && blend !== 'latents') throw new Error(`--blend must be noise or latents, got '${values.blend}'`);
  const detectorKind = values['pose-detector'] ?? 'default';
  if (detectorKind !== 'default' && detectorKind !== 'dwpose') throw new Error(`--pose-detector must be default or dwpose, got '${detectorKind}'`);
  const guidance = values.guidance !== undefined ? num(values, 'guidance', 'number', 3) : undefined;
  const facts = readWeightsFacts(typeof values.weights === 'string' ? values.weights : undefined);
  const options = {
    numInferenceSteps: num(values, 'steps', 'posint', ANIMATE_DEFAULTS.numInferenceSteps),
    minGuidanceScale: guidance ?? num(values, 'guidance-min', 'number', INFERENCE_DEFAULTS.minGuidanceScale),
    maxGuidanceScale: guidance ?? num(values, 'guidance-max', 'number', INFERENCE_DEFAULTS.maxGuidanceScale),
    seed: num(values, 'seed', 'int', ANIMATE_DEFAULTS.seed),
    // a miniature's windows are its training clips (miniature.json), overlapping by 2 as in its demo
    tileSize: num(values, 'tile-size', 'posint', facts.window ?? ANIMATE_DEFAULTS.tileSize),
    tileOverlap: num(values, 'tile-overlap', 'int', facts.window ? Math.min(2, facts.window - 1) : ANIMATE_DEFAULTS.tileOverlap),
    noiseAugStrength: num(values, 'noise-aug', 'nonneg', ANIMATE_DEFAULTS.noiseAugStrength),
    decodeChunkSize: num(values, 'decode-chunk', 'posint', 4),
    fps: num(values, 'cond-fps', 'posint', ANIMATE_DEFAULTS.fps),
    motionBucketId: num(values, 'motion-bucket', 'int', ANIMATE_DEFAULTS.motionBucketId),
    blend,
  };
  if (options.tileSize < 2 || options.tileOverlap < 1 || options.tileOverlap >= options.tileSize) {
    throw new Error(`--tile-overlap must be in [1, --tile-size − 1] and --tile-size >= 2, got ${options.tileOverlap} and ${options.tileSize}`);
  }
  const hjbWindow = (values['hjb-window'] ?? 'full') as HjbWindowKind;
  if (!HJB_WINDOWS.includes(hjbWindow)) throw new Error(`--hjb-window must be ${HJB_WINDOWS.join(' or ')}, got '${values['hjb-window']}'`);
  const hjb = values.hjb ? {
    startStep: num(values, 'hjb-start', 'int', 0), endStep: num(values, 'hjb-end', 'int', 20),
    iterations: num(values, 'hjb-iters', 'posint', 3), lr: num(values, 'hjb-lr', 'nonneg', 0.1), decodeChunkSize: options.decodeChunkSize,
    window: hjbWindow, windowMargin: num(values, 'hjb-margin', 'int', DEFAULT_HJB_MARGIN),
  } : undefined;
  const maxFrames = values['max-frames'] !== undefined ? num(values, 'max-frames', 'posint', 0) : undefined;
  const timing = timingOptions(values);

  // 2. Inputs that can fail fast: the reference image, the driving input, the weights
  const refImage = await readImage(values.ref, { channels: 3 });
  if (Math.min(refImage.width, refImage.height) < LIMITS.minReferenceSide) {
    throw new Error(`--ref ${values.ref}: ${refImage.width}x${refImage.height} is too small; expected at least ${LIMITS.minReferenceSide} pixels a side`);
  }
  const [width, height] = outputSize(values, refImage.width, refImage.height, facts);
  const sizeWarning = untrainedSizeWarning(facts, width, height);
  if (sizeWarning) log(`warning: ${sizeWarning}`);
  const kind = await drivingKind(values.driving);
  const paths = resolveWeightPaths(values.weights, {
    unet: values.unet, poseNet: values['pose-net'], faceEncoder: values['face-encoder'], arcface: values.arcface,
    arcfaceOnnx: values['arcface-onnx'], svdDir: values.svd,
  }, { hjb: !!hjb });
  if (hjb && kind === 'skeletons' && !values['face-masks']) {
    throw new Error('--hjb needs face boxes: give --face-masks DIR, or drive with keypoints or a video (boxes from the face keypoints)');
  }

  // 3. Driving poses, aligned to the reference's pose (before the weights load: a bad input fails in seconds)
  let detector: PoseDetector | undefined;
  let driving;
  try {
    let alignModel: LearnedAlignment | undefined;
    let method = align;
    if (kind !== 'skeletons' && method === 'learned') {
      const dir = alignmentFolder(values);
      if (dir) alignModel = LearnedAlignment.fromPretrained(dir);
      else {
        log('--align learned: no learned alignment weights (--align-weights, <weights>/Alignment or the shipped weights/align); using the closed-form SVD alignment');
        method = 'svd';
      }
    }
    if (kind === 'video' || (kind === 'keypoints' && method !== 'none') || (kind === 'keypoints' && timing.fit === 'crop')) {
      detector = await openPoseDetector({ detector: detectorKind, dwposeDir: detectorKind === 'dwpose' ? paths.dwposeDir : undefined });
    }
    const bar = progressBar(kind === 'video' ? 'poses  ' : 'driving');
    driving = await prepareDriving(refImage, values.driving, {
      width, height, align: method, alignModel, detector, maxFrames, skeleton: facts.skeleton,
      fps: timing.fps, stride: timing.stride, defaultFps: facts.fps, fit: timing.fit,
      onProgress: (p) => bar.update(p.frames, p.total ?? p.frames), onNotice: log,
    });
    bar.finish(`${driving.images.length} driving frame(s) (${driving.kind}, alignment: ${driving.alignment})`);
    const s = driving.sampling;
    log(`timing: ${s.indices.length} of ${s.sourceFrames} driving frame(s), ${s.description}; the output plays ${(s.indices.length / s.fps).toFixed(2)} s`);
    log(`framing: ${timing.fit} ${refImage.width}x${refImage.height} -> ${width}x${height}`);
  } finally {
    await detector?.dispose();
  }
  if (values['save-poses'] && driving.frames) {
    for (let i = 0; i < driving.frames.length; i++) await writePoseImage(join(values['save-poses'], `frame_${i}.png`), driving.frames[i], width, height, { style: facts.skeleton });
  }

  // 4. Models
  const needArcface = !!hjb || !paths.arcfaceOnnx;
  const components = loadComponents(paths, { dtype, ...placement, arcface: needArcface, onStage: (s) => log(`loading ${s}`) });

  // 5-7. The reference's identity, HJB face boxes, tensors
  const prepared = await prepareInputs(components, refImage, driving, {
    width, height, hjb: !!hjb, faceMasks: values['face-masks'], refMask: values['ref-mask'], arcfaceOnnx: paths.arcfaceOnnx,
  });
  if (prepared.face) log(`reference face at [${prepared.face.box.join(', ')}] (${prepared.face.embedder})`);
  if (hjb) {
    const where = hjb.window === 'face' ? `face windows (margin ${hjb.windowMargin} latent px)` : 'whole frames';
    log(`HJB on steps ${hjb.startStep}..${hjb.endStep}, ${hjb.iterations} iteration(s), lr ${hjb.lr}; faces in ${prepared.framesWithFace}/${driving.images.length} frames; decoding ${where}`);
  }

  // 8. Animate
  const poses = prepared.inputs.poses;
  const pipe = new StableAnimatorPipeline(components);
  const bar = progressBar('denoise');
  const t0 = performance.now();
  const result = pipe.call(prepared.inputs, {
    ...options, hjb,
    onWarning: (m) => { bar.finish(); log(m); },
    onProgress: (p) => {
      if (p.phase !== 'denoise') return;
      const loss = p.hjb ? `face loss ${p.hjb.losses[0].toFixed(3)} -> ${p.hjb.losses[p.hjb.losses.length - 1].toFixed(3)}` : undefined;
      bar.update(p.step, p.total, loss);
    },
  });
  bar.finish(`denoised ${poses.size(0)} frame(s) at ${width}x${height} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  // 9. Outputs, written atomically
  const images = framesToImages(result.frames!);
  const written = await writeAnimation(output, { frames: images, fps: driving.sampling.fps, audio: driving.audio }, { audio: timing.audio });
  if (values['frames-dir']) await writeFrames(values['frames-dir'], images);
  const sound = written.audio ? ', with the driving video\'s audio' : '';
  if (driving.audio && timing.audio && !written.audio) log(`the driving video's audio is not written: ${output} is not an .mp4`);
  log(`wrote ${output} (${images.length} frames at ${formatRate(driving.sampling.fps)} fps${sound})${values['frames-dir'] ? ` and ${values['frames-dir']}/frame_*.png` : ''}`);
  return 0;
}

/** --jobs FILE: the command line gives the weights, device and dtype, and defaults under the file's own. */
function runJobsFile(file: string, values: Values, log: (m: string) => void): Promise<number> {
  for (const k of ['ref', 'driving', 'output']) if (values[k] !== undefined) throw new Error(`--jobs ${file}: --${k} belongs in the jobs file, not on the command line`);
  const device = parseDevice(values.device as string | undefined);
  if (values.threads !== undefined) torch.setNumThreads(num(values, 'threads', 'posint', 1));
  const timing = timingOptions(values);
  const given = (name: string, kind: NumberKind) => (values[name] !== undefined ? num(values, name, kind, 0) : undefined);
  const size = typeof values.size === 'string' ? parseSize(values.size) : undefined;
  const defaults = Object.fromEntries(Object.entries({
    width: size?.[0] ?? given('width', 'posint'), height: size?.[1] ?? given('height', 'posint'), steps: given('steps', 'posint'),
    seed: given('seed', 'int'), guidance: given('guidance', 'number'), maxFrames: given('max-frames', 'posint'),
    fps: timing.fps, stride: timing.stride, fit: values.fit === undefined ? undefined : timing.fit, audio: values['no-audio'] ? false : undefined,
    align: values.align,
  }).filter(([, v]) => v !== undefined)) as JobOptions;
  return runAnimateJobs(file, { weights: values.weights as string | undefined, ...placementOptions(values, device), dtype: parseDtype(values.dtype as string | undefined, device), defaults }, log);
}

const formatRate = (fps: number): string => String(Math.round(fps * 1000) / 1000);

export const animate: Command = {
  summary: 'animate a reference photo with driving poses (video, keypoints or skeleton images)',
  usage: USAGE,
  run: (args) => runAnimate(args),
};
