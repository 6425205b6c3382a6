// A synthetic person: every visual parameter drawn from one seeded RNG, so identity i of seed s is always the
// same person. Proportions scale the skeleton (and therefore the written poses); the rest is appearance.
// Colours are 0-255 RGB. Face features are sized in units of the head radius and kept large enough to stay
// visible when the head is ~10-16 px across (a full figure in a 128x128 frame).

import type { Rng } from '../../util/rng.ts';
import type { Colour } from './shapes.ts';

export type HairStyle = 'bald' | 'short' | 'long' | 'bun' | 'curly' | 'ponytail';
export type Pattern = 'plain' | 'stripes' | 'checks';

export interface Identity {
  id: string;
  body: {
    /** Multipliers of the skeleton's segments about their parent joint. */
    shoulderWidth: number;
    armLength: number;
    legLength: number;
    /** Limb and torso radii as fractions of the torso length. */
    limbRadius: number;
    torsoWidth: number;
    /** Head radius as a fraction of the torso length (stylised: larger than life so the face is visible). */
    headRadius: number;
  };
  skin: Colour;
  hair: { style: HairStyle; colour: Colour };
  clothes: {
    top: Colour;
    pattern: Pattern;
    patternColour: Colour;
    /** Period of the pattern, fraction of the torso length. */
    patternPeriod: number;
    longSleeves: boolean;
    bottom: Colour;
    shorts: boolean;
    shoes: Colour;
  };
  face: {
    eyeSpacing: number;
    eyeSize: number;
    eyeColour: Colour;
    browThickness: number;
    browTilt: number;
    mouthWidth: number;
    lips: Colour;
    glasses?: { colour: Colour; round: boolean };
    beard?: { colour: Colour; full: boolean };
  };
}

const SKIN_TONES: readonly Colour[] = [
  [255, 224, 196], [241, 194, 158], [224, 172, 128], [198, 134, 90], [161, 102, 64], [120, 74, 44], [86, 52, 32],
];
const HAIR_COLOURS: readonly Colour[] = [
  [20, 16, 14], [60, 38, 24], [110, 70, 40], [200, 160, 90], [170, 70, 30], [180, 180, 180], [230, 220, 180], [60, 60, 150], [150, 40, 90],
];
const EYE_COLOURS: readonly Colour[] = [[60, 40, 20], [40, 90, 160], [50, 120, 60], [20, 20, 20]];
const HAIR_STYLES: readonly HairStyle[] = ['bald', 'short', 'long', 'bun', 'curly', 'ponytail'];
const PATTERNS: readonly Pattern[] = ['plain', 'stripes', 'checks'];

const pick = <T>(rng: Rng, items: readonly T[]): T => items[rng.int(items.length)]!;
const mix = (a: Colour, b: Colour, t: number): Colour => [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
const round = (c: Colour): Colour => [Math.round(c[0]), Math.round(c[1]), Math.round(c[2])];

/** A saturated-ish random clothing colour (HSV with s, v kept away from grey-on-grey). */
export function randomColour(rng: Rng, satRange: [number, number] = [0.35, 0.95], valRange: [number, number] = [0.25, 0.95]): Colour {
  const h = rng.next() * 6;
  const s = rng.uniform(...satRange);
  const v = rng.uniform(...valRange) * 255;
  const i = Math.floor(h);
  const f = h - i;
  const p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
  const rgb: Colour = [[v, t, p], [q, v, p], [p, v, t], [p, q, v], [t, p, v], [v, p, q]][i % 6] as unknown as Colour;
  return round(rgb);
}

/** Identity `index` of a run seeded by `rng` (the caller forks one stream per identity). */
export function sampleIdentity(rng: Rng, id: string): Identity {
  const t = rng.next() * (SKIN_TONES.length - 1);
  const skin = round(mix(SKIN_TONES[Math.floor(t)]!, SKIN_TONES[Math.min(SKIN_TONES.length - 1, Math.floor(t) + 1)]!, t - Math.floor(t)));
  const hairColour = pick(rng, HAIR_COLOURS);
  const style = pick(rng, HAIR_STYLES);
  const top = randomColour(rng);
  let patternColour = randomColour(rng);
  // Keep the pattern visible: push it away from the top colour when they are close.
  if (Math.abs(patternColour[0] - top[0]) + Math.abs(patternColour[1] - top[1]) + Math.abs(patternColour[2] - top[2]) < 150) {
    patternColour = round(top.map((c) => (c > 128 ? c * 0.35 : c + (255 - c) * 0.7)) as unknown as Colour);
  }
  const hasGlasses = rng.next() < 0.3;
  const hasBeard = rng.next() < 0.25;
  return {
    id,
    body: {
      shoulderWidth: rng.uniform(0.85, 1.2),
      armLength: rng.uniform(0.9, 1.1),
      legLength: rng.uniform(0.9, 1.1),
      limbRadius: rng.uniform(0.075, 0.12),
      torsoWidth: rng.uniform(0.9, 1.3),
      headRadius: rng.uniform(0.3, 0.36),
    },
    skin,
    hair: { style, colour: hairColour },
    clothes: {
      top,
      pattern: pick(rng, PATTERNS),
      patternColour,
      patternPeriod: rng.uniform(0.12, 0.25),
      longSleeves: rng.next() < 0.5,
      bottom: randomColour(rng, [0.1, 0.7], [0.15, 0.7]),
      shorts: rng.next() < 0.3,
      shoes: randomColour(rng, [0, 0.6], [0.05, 0.5]),
    },
    face: {
      eyeSpacing: rng.uniform(0.3, 0.4),
      eyeSize: rng.uniform(0.13, 0.19),
      eyeColour: pick(rng, EYE_COLOURS),
      browThickness: rng.uniform(0.05, 0.1),
      browTilt: rng.uniform(-0.25, 0.25),
      mouthWidth: rng.uniform(0.22, 0.38),
      lips: round(mix(skin, [170, 40, 50], rng.uniform(0.35, 0.75))),
      ...(hasGlasses ? { glasses: { colour: randomColour(rng, [0, 0.8], [0.05, 0.6]), round: rng.next() < 0.5 } } : {}),
      ...(hasBeard ? { beard: { colour: round(mix(hairColour, [30, 25, 20], 0.3)), full: rng.next() < 0.6 } } : {}),
    },
  };
}
