// A contact sheet of a written dataset's identities, so people can see the data: per identity, the frame with
// its largest face box (over all its clips) and, beside it, the face crop from that box, enlarged.

import { join } from 'node:path';
import { readImage, createImage } from '../../io/image.ts';
import type { Image } from '../../io/image.ts';
import { cropBox, squareFaceBox } from '../../face/align.ts';
import type { Box } from '../../pose/dwpose/yolox.ts';
import { readFile } from 'node:fs/promises';
import type { SynthDataset } from './dataset.ts';

export async function contactSheet(data: SynthDataset, options: { count?: number; columns?: number } = {}): Promise<Image> {
  const ids = data.identities.slice(0, options.count ?? 24);
  const columns = options.columns ?? 6;
  const tiles: { frame: Image; box?: Box }[] = [];
  for (const id of ids) {
    // The identity's largest face box over all its clips: a near-frontal, close view.
    let best: { dir: string; frame: number; box: Box; area: number } | undefined;
    let fallback: string | undefined;
    for (const clip of data.clips.filter((c) => c.identity === id.id)) {
      const dir = join(data.root, clip.path);
      fallback ??= dir;
      const faces = JSON.parse(await readFile(join(dir, 'faces.json'), 'utf8')) as { boxes: Box[][] };
      faces.boxes.forEach((boxes, frame) => {
        const box = boxes[0];
        const area = box ? (box[2] - box[0]) * (box[3] - box[1]) : 0;
        if (box && (!best || area > best.area)) best = { dir, frame, box, area };
      });
    }
    if (!fallback) continue;
    const path = best ? join(best.dir, 'images', `frame_${best.frame}.png`) : join(fallback, 'images', 'frame_0.png');
    tiles.push({ frame: await readImage(path, { channels: 3 }), box: best?.box });
  }
  if (tiles.length === 0) throw new Error(`contactSheet: no clips in ${data.root}`);
  const cell = tiles[0]!.frame.width;
  const rows = Math.ceil(tiles.length / columns);
  const sheet = createImage(columns * 2 * cell, rows * cell);
  tiles.forEach(({ frame, box }, k) => {
    const crop = box ? cropBox(frame, squareFaceBox(box), cell) : new Float32Array(cell * cell * 3);
    const x0 = (k % columns) * 2 * cell, y0 = Math.floor(k / columns) * cell;
    for (let y = 0; y < Math.min(cell, frame.height); y++) {
      for (let x = 0; x < cell; x++) {
        for (let c = 0; c < 3; c++) {
          sheet.data[((y0 + y) * sheet.width + x0 + x) * 3 + c] = frame.data[(y * frame.width + x) * 3 + c]!;
          sheet.data[((y0 + y) * sheet.width + x0 + cell + x) * 3 + c] = Math.round(Math.min(255, Math.max(0, crop[(y * cell + x) * 3 + c]!)));
        }
      }
    }
  });
  return sheet;
}

/**
 * Clips as strips, to check that poses and masks follow the figure: per clip a row of frames and below it
 * the same frames dimmed, with the face mask brightened and the pose image on top.
 */
export async function clipSheet(data: SynthDataset, clips: readonly string[], frames = 8): Promise<Image> {
  const rows: Image[][] = [];
  for (const name of clips) {
    const label = data.clips.find((c) => c.clip === name);
    if (!label) throw new Error(`${join(data.root, 'identities.json')}: no clip "${name}"`);
    const dir = join(data.root, label.path);
    const top: Image[] = [];
    const bottom: Image[] = [];
    for (let f = 0; f < Math.min(frames, label.frames); f++) {
      const image = await readImage(join(dir, 'images', `frame_${f}.png`), { channels: 3 });
      const pose = await readImage(join(dir, 'poses', `frame_${f}.png`), { channels: 3 });
      const mask = await readImage(join(dir, 'faces', `frame_${f}.png`), { channels: 3 });
      const overlay = createImage(image.width, image.height);
      for (let i = 0; i < overlay.data.length; i++) {
        overlay.data[i] = Math.min(255, Math.max(3 * pose.data[i]!, Math.round(0.4 * image.data[i]! + 0.25 * mask.data[i]!)));
      }
      top.push(image);
      bottom.push(overlay);
    }
    rows.push(top, bottom);
  }
  const w = rows[0]?.[0]?.width ?? 1, h = rows[0]?.[0]?.height ?? 1;
  const sheet = createImage(w * Math.max(...rows.map((r) => r.length)), h * rows.length);
  rows.forEach((row, r) => row.forEach((tile, c) => {
    for (let y = 0; y < h; y++) sheet.data.set(tile.data.subarray(y * w * 3, (y + 1) * w * 3), ((r * h + y) * sheet.width + c * w) * 3);
  }));
  return sheet;
}
