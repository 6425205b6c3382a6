// Fitting a reference photo of any aspect to the working size W x H, and mapping its pose and boxes the same way.
// One rectangle of the reference (in its pixels) becomes the working frame:
//   crop     the largest W:H rectangle inside the photo, centred on the person (their pose's box) when known,
//            else on the photo: nobody is stretched (MimicMotion cover-resizes and centre-crops);
//   pad      the smallest W:H rectangle holding the photo, the margins a neutral grey (letterbox);
//   stretch  the whole photo, resized to W x H (the released pipeline's plain resize).
// The framed reference is that rectangle at the photo's own scale; everything after (alignment to its pose,
// skeletons drawn at W x H, face boxes, the CLIP and VAE inputs) works on it, so the driving poses, aligned to
// the reference's pose in its coordinates, land in the working frame through the same transform.
import { createImage, type Image } from '../io/image.ts';
import type { PixelBox } from '../face/face-boxes.ts';
import { isVisible, type PoseFrame } from '../pose/keypoints.ts';

export const FIT_MODES = ['crop', 'pad', 'stretch'] as const;
export type FitMode = (typeof FIT_MODES)[number];

export function isFitMode(v: string): v is FitMode {
  return (FIT_MODES as readonly string[]).includes(v);
}

/** The grey of pad's margins (mid-range: neither black nor white pulls the colours). */
export const PAD_GREY = 127;

export interface Framing {
  mode: FitMode;
  /** The reference's size. */
  source: [number, number];
  /** The rectangle of the reference that becomes the working frame: reference pixels, integers; may reach outside (pad). */
  rect: { x: number; y: number; width: number; height: number };
  /** The working size. */
  target: [number, number];
}

/** The rectangle of a `source`-sized reference that `mode` maps onto `target`; `person` (reference pixels) centres a crop. */
export function fitReference(source: [number, number], target: [number, number], mode: FitMode, person?: PixelBox): Framing {
  const [sw, sh] = source;
  const aspect = target[0] / target[1];
  const wider = sw / sh > aspect;
  let rect: Framing['rect'];
  if (mode === 'stretch') {
    rect = { x: 0, y: 0, width: sw, height: sh };
  } else if (mode === 'pad') {
    const width = wider ? sw : Math.round(sh * aspect);
    const height = wider ? Math.round(sw / aspect) : sh;
    rect = { x: -Math.floor((width - sw) / 2), y: -Math.floor((height - sh) / 2), width, height };
  } else {
    const width = wider ? Math.round(sh * aspect) : sw;
    const height = wider ? sh : Math.round(sw / aspect);
    const clamp = (v: number, max: number) => Math.min(Math.max(Math.round(v), 0), max);
    const [cx, cy] = person ? [(person[0] + person[2]) / 2, (person[1] + person[3]) / 2] : [sw / 2, sh / 2];
    // a person taller than the crop keeps their head in it
    const top = person && person[3] - person[1] > height ? person[1] - 0.05 * height : cy - height / 2;
    rect = { x: clamp(cx - width / 2, sw - width), y: clamp(top, sh - height), width, height };
  }
  return { mode, source: [sw, sh], rect, target };
}

/** The framed reference: the rectangle's pixels at the reference's scale (pad's margins grey). */
export function frameImage(image: Image, framing: Framing): Image {
  const { x, y, width, height } = framing.rect;
  if (x === 0 && y === 0 && width === image.width && height === image.height) return image;
  const c = image.channels;
  const out = createImage(width, height, c === 4 ? 4 : 3);
  out.data.fill(PAD_GREY);
  const x0 = Math.max(0, x), x1 = Math.min(image.width, x + width);
  for (let sy = Math.max(0, y); sy < Math.min(image.height, y + height); sy++) {
    const from = (sy * image.width + x0) * c;
    out.data.set(image.data.subarray(from, from + (x1 - x0) * c), ((sy - y) * width + (x0 - x)) * c);
  }
  return out;
}

/** A point in reference pixels -> working-frame pixels. */
export function mapPoint(framing: Framing, px: number, py: number): [number, number] {
  const { rect, target } = framing;
  return [((px - rect.x) * target[0]) / rect.width, ((py - rect.y) * target[1]) / rect.height];
}

/** A box in reference pixels -> the framed reference's pixels. */
export function frameBox(box: PixelBox, framing: Framing): PixelBox {
  const { x, y } = framing.rect;
  return [box[0] - x, box[1] - y, box[2] - x, box[3] - y];
}

/** A pose normalised to the reference -> normalised to the framed reference (and so to the working frame). */
export function framePose(frame: PoseFrame, framing: Framing): PoseFrame {
  const { source: [sw, sh], rect } = framing;
  const map = (k: [number, number, number]): [number, number, number] => [(k[0] * sw - rect.x) / rect.width, (k[1] * sh - rect.y) / rect.height, k[2]];
  return {
    persons: frame.persons.map((p) => ({ body: p.body.map(map), hands: [p.hands[0].map(map), p.hands[1].map(map)], face: p.face.map(map) })),
  };
}

/** The box of the first person's visible body points, in pixels of a `size` frame; undefined without two points. */
export function personBox(frame: PoseFrame | undefined, size: [number, number]): PixelBox | undefined {
  const pts = frame?.persons[0]?.body.filter((k) => isVisible(k)) ?? [];
  if (pts.length < 2) return undefined;
  const xs = pts.map((k) => k[0] * size[0]), ys = pts.map((k) => k[1] * size[1]);
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
}
