// Pose and face benchmark (default, embedded detector): frames per second of pose extraction and of face
// detection + embedding on ../shared/data/video/people_426x240.mp4; body accuracy (OKS, PCK) and face-landmark
// error on the COCO ground truth in ../shared/data/photos/coco_gt; identity separation (CSIM) on the
// portraits face_*.png and frames of talking_head.mp4. DWPose is measured too when $DWPOSE_DIR holds its models.
//   npm run bench -- poses [--quick] [--threads N]
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as torch from '../src/torch/index.ts';
import { readImage } from '../src/io/image.ts';
import { decodeFrames } from '../src/io/video.ts';
import { emptyCounts, scoreImage, summarize, type AccuracySummary } from '../src/eval/keypoint-accuracy.ts';
import { detectFaces, largestFace } from '../src/face/detect.ts';
import { cosineSimilarity, FaceResEmbedder } from '../src/face/embed.ts';
import type { PoseDetector } from '../src/pose/detector.ts';
import { DwposeDetector } from '../src/pose/dwpose/detector.ts';
import { EmbeddedPoseDetector, type EmbeddedPoseOptions } from '../src/pose/embedded/detector.ts';
import { printTable, writeResult } from './timing.ts';

const SHARED = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'shared', 'data');
const VIDEO = join(SHARED, 'video', 'people_426x240.mp4');
const COCO = join(SHARED, 'photos', 'coco_gt');

async function poseFps(make: () => PoseDetector, frames: number): Promise<{ fps: number; frames: number; persons: number }> {
  const detector = make();
  // Warm-up (model loading) on the first frame, not timed.
  for await (const f of decodeFrames(VIDEO, { maxFrames: 1 })) await detector.detect(f);
  (detector as EmbeddedPoseDetector).reset?.();
  let n = 0;
  let persons = 0;
  let busy = 0;
  for await (const f of decodeFrames(VIDEO, { maxFrames: frames })) {
    const t0 = performance.now();
    persons += (await detector.detect(f)).persons.length;
    busy += performance.now() - t0;
    n++;
  }
  await detector.dispose();
  return { fps: n / (busy / 1000), frames: n, persons };
}

async function faceFps(video: string, frames: number): Promise<{ fps: number; frames: number; faces: number }> {
  const embedder = new FaceResEmbedder();
  let n = 0;
  let faces = 0;
  let busy = 0;
  for await (const f of decodeFrames(video, { maxFrames: frames + 1 })) {
    const t0 = performance.now();
    const face = largestFace(await detectFaces(f));
    if (face) await embedder.embedFace(f, face);
    if (n++ > 0) {
      busy += performance.now() - t0; // frame 0 loads the models
      if (face) faces++;
    }
  }
  return { fps: (n - 1) / (busy / 1000), frames: n - 1, faces };
}

interface CocoJson {
  images: { id: number; file_name: string }[];
  annotations: {
    image_id: number; keypoints: number[]; area: number; face_kpts?: number[]; face_valid?: boolean; face_box?: [number, number, number, number];
    lefthand_kpts?: number[]; righthand_kpts?: number[]; lefthand_valid?: boolean; righthand_valid?: boolean;
    lefthand_box?: [number, number, number, number]; righthand_box?: [number, number, number, number];
  }[];
}

async function accuracy(detector: PoseDetector): Promise<AccuracySummary & { msPerImage: number }> {
  const gt = JSON.parse(readFileSync(join(COCO, 'test_coco_wholebody.json'), 'utf8')) as CocoJson;
  const counts = emptyCounts([0.1, 0.2]);
  let ms = 0;
  for (const im of gt.images) {
    const image = await readImage(join(COCO, im.file_name), { channels: 3 });
    const t0 = performance.now();
    const frame = await detector.detect(image);
    ms += performance.now() - t0;
    const truth = gt.annotations.filter((a) => a.image_id === im.id).map((a) => ({
      keypoints: a.keypoints, area: a.area, face: a.face_valid ? a.face_kpts : undefined, faceBox: a.face_box,
      hands: [a.lefthand_valid ? a.lefthand_kpts : undefined, a.righthand_valid ? a.righthand_kpts : undefined] as [number[] | undefined, number[] | undefined],
      handBoxes: [a.lefthand_box, a.righthand_box] as [[number, number, number, number] | undefined, [number, number, number, number] | undefined],
    }));
    scoreImage(frame.persons, [image.width, image.height], truth, counts);
  }
  await detector.dispose();
  return { ...summarize(counts), msPerImage: ms / gt.images.length };
}

async function identity(videoFrames: number): Promise<Record<string, number | string>> {
  const embedder = new FaceResEmbedder();
  const photos: Float32Array[] = [];
  for (let i = 1; i <= 5; i++) {
    const path = join(SHARED, 'photos', `face_${i}.png`);
    if (!existsSync(path)) continue;
    const image = await readImage(path, { channels: 3 });
    const face = largestFace(await detectFaces(image));
    if (face) photos.push(await embedder.embedFace(image, face));
  }
  const video: Float32Array[] = [];
  const path = join(SHARED, 'video', 'talking_head.mp4');
  let k = 0;
  let missed = 0;
  for await (const f of decodeFrames(path)) {
    if (k++ % Math.max(1, Math.floor(352 / videoFrames)) !== 0) continue;
    const face = largestFace(await detectFaces(f));
    if (face) video.push(await embedder.embedFace(f, face));
    else missed++;
  }
  const pairs = (a: Float32Array[], b?: Float32Array[]) => {
    const out: number[] = [];
    if (b) for (const x of a) for (const y of b) out.push(cosineSimilarity(x, y));
    else for (let i = 0; i < a.length; i++) for (let j = i + 1; j < a.length; j++) out.push(cosineSimilarity(a[i], a[j]));
    return out;
  };
  const stats = (v: number[]) => ({ n: v.length, min: Math.min(...v), mean: v.reduce((s, x) => s + x, 0) / v.length, max: Math.max(...v) });
  const same = stats(pairs(video));
  const diffPhotos = stats(pairs(photos));
  const diffVideo = stats(pairs(video, photos));
  return {
    embedder: 'faceres', photos: photos.length, videoFrames: video.length, videoFramesWithoutFace: missed,
    samePairs: same.n, sameMin: same.min, sameMean: same.mean,
    differentPairs: diffPhotos.n + diffVideo.n, differentMean: (diffPhotos.mean * diffPhotos.n + diffVideo.mean * diffVideo.n) / (diffPhotos.n + diffVideo.n),
    differentMax: Math.max(diffPhotos.max, diffVideo.max),
    gap: same.min - Math.max(diffPhotos.max, diffVideo.max),
  };
}

export async function run(args: string[]): Promise<void> {
  const quick = args.includes('--quick');
  const ti = args.indexOf('--threads');
  if (ti >= 0) torch.setNumThreads(Number(args[ti + 1]));
  const threads = torch.getNumThreads();
  if (!existsSync(VIDEO)) throw new Error(`bench poses needs ${VIDEO} (../shared/data)`);
  const frames = quick ? 30 : 300;
  console.log(`poses benchmark (${quick ? 'quick' : 'full'}), ${threads} threads, ${frames} frames of ${VIDEO}`);

  const video = (opts: EmbeddedPoseOptions) => () => new EmbeddedPoseDetector({ redetectEvery: 5, ...opts });
  const speed = [
    { name: 'pose whole-body (default, redetect every 5)', ...(await poseFps(video({}), frames)) },
    { name: 'pose body only (default, redetect every 5)', ...(await poseFps(video({ face: false, hands: false }), frames)) },
    { name: 'pose whole-body (default, detect every frame)', ...(await poseFps(() => new EmbeddedPoseDetector(), quick ? 10 : 60)) },
  ];
  // people_426x240 has faces of ~10 px (mostly not found: detection cost only); talking_head has one large face.
  const face = await faceFps(VIDEO, quick ? 20 : 100);
  const talking = join(SHARED, 'video', 'talking_head.mp4');
  const faceTalking = existsSync(talking) ? await faceFps(talking, quick ? 20 : 100) : undefined;
  printTable([
    ...speed.map((s) => ({ task: s.name, fps: s.fps, frames: s.frames, found: s.persons })),
    { task: 'face detect + embed (largest face), people_426x240', fps: face.fps, frames: face.frames, found: face.faces },
    ...(faceTalking ? [{ task: 'face detect + embed (largest face), talking_head', fps: faceTalking.fps, frames: faceTalking.frames, found: faceTalking.faces }] : []),
  ]);

  const acc: Record<string, AccuracySummary & { msPerImage: number }> = {};
  if (existsSync(COCO)) {
    acc.default = await accuracy(new EmbeddedPoseDetector());
    if (process.env.DWPOSE_DIR) acc.dwpose = await accuracy(await DwposeDetector.load({ dir: process.env.DWPOSE_DIR }));
    printTable(Object.entries(acc).map(([name, a]) => ({
      detector: name, persons: a.persons, 'mean OKS': a.meanOks, 'OKS>=.5': a.oks50, 'OKS>=.75': a.oks75,
      'PCK@0.1': a.pck['0.1'], 'PCK@0.2': a.pck['0.2'], 'face NME': a.faceNme, 'hands found': `${a.handsFound}/${a.handsLabelled}`, 'hand NME': a.handNme, 'ms/image': a.msPerImage,
    })));
  }
  const id = await identity(quick ? 8 : 24);
  printTable([id]);
  console.log(`wrote ${writeResult('poses', { threads, quick, speed, face, faceTalking, accuracy: acc, identity: id })}`);
}
