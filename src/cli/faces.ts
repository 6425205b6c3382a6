// `stable-animator faces mask|embed`: face masks for training/HJB, identity embeddings and CSIM.

import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../io/atomic.ts';
import { readImage } from '../io/image.ts';
import { detectFaces, largestFace } from '../face/detect.ts';
import { cosineSimilarity, createFaceEmbedder } from '../face/embed.ts';
import { extractFaceMasks } from '../face/masks.ts';
import type { Command } from './main.ts';
import { progressReporter } from './progress.ts';

const USAGE = `stable-animator faces mask <video|dir> -o <dir> [--largest] [--missing empty|full] [--max-frames N]
  stable-animator faces embed <image> [--compare <image>] [--arcface glintr100.onnx] [-o embedding.json]

  mask    per frame, a single-channel PNG with each face box filled white (frame_0.png, ...), and faces.json
          with the boxes. Frames without a face are listed; they get an empty mask, or a full one with
          --missing full (StableAnimator's fallback).
  embed   the identity embedding of the image's largest face: ArcFace from --arcface (antelopev2's
          glintr100.onnx), else the embedded FaceRes model. --compare prints the cosine similarity (CSIM).`;

async function mask(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      output: { type: 'string', short: 'o' },
      largest: { type: 'boolean' },
      missing: { type: 'string' },
      'max-frames': { type: 'string' },
    },
  });
  if (positionals.length !== 1 || !values.output) throw new Error(`usage: ${USAGE.split('\n')[0]}`);
  const missing = values.missing ?? 'empty';
  if (missing !== 'empty' && missing !== 'full') throw new Error(`--missing must be empty or full, got '${missing}'`);
  const progress = progressReporter('faces');
  const report = await extractFaceMasks(positionals[0], values.output, {
    missing,
    largestOnly: values.largest,
    maxFrames: values['max-frames'] !== undefined ? Number(values['max-frames']) : undefined,
    onProgress: progress,
  });
  progress.done();
  console.log(`wrote ${report.frames} mask(s) ${report.size[0]}x${report.size[1]} and faces.json into ${values.output}`);
  if (report.missing.length > 0) {
    const list = report.missing.length > 20 ? `${report.missing.slice(0, 20).join(', ')}, ...` : report.missing.join(', ');
    console.warn(`no face in ${report.missing.length} frame(s) (${missing === 'full' ? 'filled white' : 'left empty'}): ${list}`);
  }
  return 0;
}

async function embed(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { compare: { type: 'string' }, arcface: { type: 'string' }, output: { type: 'string', short: 'o' } },
  });
  if (positionals.length !== 1) throw new Error(`usage: ${USAGE.split('\n')[1].trim()}`);
  const embedder = await createFaceEmbedder(values.arcface);
  try {
    const one = async (path: string) => {
      const image = await readImage(path, { channels: 3 });
      const face = largestFace(await detectFaces(image));
      if (!face) throw new Error(`no face found in ${path}`);
      return { face, embedding: await embedder.embedFace(image, face) };
    };
    const a = await one(positionals[0]);
    const box = a.face.box.map((v) => Math.round(v));
    const norm = Math.hypot(...a.embedding);
    console.log(`${positionals[0]}: face [${box.join(', ')}] score ${a.face.score.toFixed(2)}; ${embedder.name} embedding, ${a.embedding.length}-d, norm ${norm.toFixed(3)}`);
    if (values.output) {
      await writeFileAtomic(values.output, JSON.stringify({ image: positionals[0], model: embedder.name, box, score: a.face.score, embedding: Array.from(a.embedding) }) + '\n');
      console.log(`wrote ${values.output}`);
    }
    if (values.compare) {
      const b = await one(values.compare);
      console.log(`CSIM(${positionals[0]}, ${values.compare}) = ${cosineSimilarity(a.embedding, b.embedding).toFixed(4)}`);
    }
    return 0;
  } finally {
    await embedder.dispose();
  }
}

export const faces: Command = {
  summary: 'face masks per frame, identity embeddings and CSIM (ArcFace ONNX or the embedded model)',
  usage: USAGE,
  async run(args) {
    const [sub, ...rest] = args;
    if (sub === 'mask') return mask(rest);
    if (sub === 'embed') return embed(rest);
    throw new Error(`unknown subcommand '${sub ?? ''}': use mask or embed\n\nusage: ${USAGE}`);
  },
};
