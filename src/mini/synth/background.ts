// Static, textured backgrounds for the synthetic clips, one per clip from its seed: a room (wall with a
// wallpaper pattern over a tiled floor), outdoors (sky gradient over ground with blotches), or a studio (a soft
// vignette); all with seeded value noise so that no two are flat and the network must separate figure from
// background.

import type { Rng } from '../../util/rng.ts';
import { randomColour } from './identity.ts';
import type { Canvas, Colour } from './shapes.ts';

export type BackgroundKind = 'room' | 'outdoor' | 'studio';

/** Smooth value noise in [0, 1] on a `cells` x `cells` lattice over the frame (bilinear with smoothstep). */
function valueNoise(rng: Rng, cells: number): (u: number, v: number) => number {
  const n = cells + 1;
  const lattice = Float64Array.from({ length: n * n }, () => rng.next());
  const s = (t: number) => t * t * (3 - 2 * t);
  return (u, v) => {
    const x = Math.min(Math.max(u, 0), 1) * cells, y = Math.min(Math.max(v, 0), 1) * cells;
    const i = Math.min(cells - 1, Math.floor(x)), j = Math.min(cells - 1, Math.floor(y));
    const fx = s(x - i), fy = s(y - j);
    const a = lattice[j * n + i]!, b = lattice[j * n + i + 1]!, c = lattice[(j + 1) * n + i]!, d = lattice[(j + 1) * n + i + 1]!;
    return a + (b - a) * fx + (c - a) * fy + (a - b - c + d) * fx * fy;
  };
}

const mix = (a: Colour, b: Colour, t: number): Colour => [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
const scale = (c: Colour, k: number): Colour => [c[0] * k, c[1] * k, c[2] * k];

/** Paints a seeded background over the whole canvas; returns its kind (recorded in the clip labels). */
export function drawBackground(canvas: Canvas, rng: Rng): BackgroundKind {
  const kinds: BackgroundKind[] = ['room', 'outdoor', 'studio'];
  const kind = kinds[rng.int(kinds.length)]!;
  const W = canvas.width, H = canvas.height;
  const coarse = valueNoise(rng, 4);
  const fine = valueNoise(rng, 24);
  const grain = (u: number, v: number) => 0.85 + 0.2 * coarse(u, v) + 0.1 * fine(u, v);
  if (kind === 'room') {
    const wall = randomColour(rng, [0.05, 0.5], [0.45, 0.95]);
    const paper = mix(wall, randomColour(rng), 0.35);
    const floor = randomColour(rng, [0.1, 0.6], [0.25, 0.7]);
    const horizon = rng.uniform(0.62, 0.85) * H;
    const period = rng.uniform(6, 16);
    const dots = rng.next() < 0.5;
    const tile = rng.uniform(8, 20);
    canvas.fillAll((x, y) => {
      const u = x / W, v = y / H;
      if (y < horizon) {
        const pat = dots ? Math.hypot(((x % period) + period) % period - period / 2, ((y % period) + period) % period - period / 2) < period * 0.22
          : Math.sin((2 * Math.PI * x) / period) > 0.3;
        return scale(pat ? paper : wall, grain(u, v));
      }
      // Floor tiles narrowing towards the horizon (a hint of perspective).
      const depth = (y - horizon) / (H - horizon + 1e-6);
      const tx = Math.floor(((x - W / 2) / (0.4 + depth)) / tile), ty = Math.floor((depth * 4 * H) / tile / (0.5 + depth));
      return scale(floor, grain(u, v) * ((tx + ty) % 2 === 0 ? 1 : 0.82) * (0.8 + 0.25 * depth));
    });
  } else if (kind === 'outdoor') {
    const skyTop = mix([70, 120, 200], randomColour(rng, [0.2, 0.6], [0.6, 1]), 0.3);
    const skyLow: Colour = mix(skyTop, [235, 235, 240], 0.6);
    const ground = randomColour(rng, [0.3, 0.8], [0.25, 0.6]);
    const horizon = rng.uniform(0.5, 0.8) * H;
    const hills = valueNoise(rng, 6);
    canvas.fillAll((x, y) => {
      const u = x / W, v = y / H;
      const edge = horizon - 0.12 * H * hills(u, 0.5);
      if (y < edge) {
        const c = mix(skyTop, skyLow, y / Math.max(edge, 1));
        return mix(c, [250, 250, 250], Math.max(0, fine(u * 0.5, v * 0.5) - 0.65) * 2); // clouds
      }
      return scale(ground, grain(u, v) * (0.75 + 0.35 * fine(u, v)));
    });
  } else {
    const base = randomColour(rng, [0.05, 0.6], [0.3, 0.9]);
    const edge = scale(base, rng.uniform(0.35, 0.7));
    const cx = rng.uniform(0.3, 0.7), cy = rng.uniform(0.3, 0.6);
    canvas.fillAll((x, y) => {
      const u = x / W, v = y / H;
      return scale(mix(base, edge, Math.min(1, Math.hypot(u - cx, v - cy) * 1.4)), grain(u, v));
    });
  }
  return kind;
}
