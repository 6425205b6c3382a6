// Fitting a reference of any aspect to the working size (pipeline/framing.ts) and mapping the driving poses the
// same way: a keypoint at a known reference pixel lands at the expected output pixel under crop, pad and
// stretch, for a portrait and a landscape reference, through the whole front half (prepareDriving).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createImage } from '../../src/io/image.ts';
import type { Keypoint, PersonPose, PoseFrame } from '../../src/pose/keypoints.ts';
import { fitReference, frameImage, mapPoint, PAD_GREY, type FitMode } from '../../src/pipeline/framing.ts';
import { prepareDriving } from '../../src/pipeline/prepare.ts';

/** A person whose body points spread over the box [x0,y0]-[x1,y1] (pixels of a w x h image), normalised; point 7 at its centre. */
function personIn(w: number, h: number, [x0, y0, x1, y1]: number[]): PersonPose {
  const body: Keypoint[] = Array.from({ length: 18 }, (_, i) => [(x0 + ((x1 - x0) * (i % 3)) / 2) / w, (y0 + ((y1 - y0) * Math.floor(i / 3)) / 5) / h, 0.9]);
  body[7] = [(x0 + x1) / 2 / w, (y0 + y1) / 2 / h, 0.9];
  return { body, hands: [Array(21).fill([0, 0, 0]), Array(21).fill([0, 0, 0])], face: Array(68).fill([0, 0, 0]) };
}

// [reference size, person box, a probe pixel, where the probe lands in 128x128 per mode]
// portrait 300x600, person in the lower half (box centre y = 400): crop = 300x300 from y 250;
// pad = 600x600 from x -150; stretch scales x by 128/300, y by 128/600.
// landscape 600x300, person on the right (box centre x = 450): crop = 300x300 from x 300; pad = 600x600 from y -150.
const CASES = [
  { size: [300, 600], person: [100, 300, 200, 500], probe: [150, 400], at: { crop: [64, 64], pad: [64, 400 * 128 / 600], stretch: [64, 400 * 128 / 600] } },
  { size: [600, 300], person: [400, 50, 500, 250], probe: [450, 150], at: { crop: [64, 64], pad: [96, 64], stretch: [96, 64] } },
] as const;

test('the framing rectangle maps a reference pixel to the expected working pixel', () => {
  for (const c of CASES) {
    for (const mode of ['crop', 'pad', 'stretch'] as FitMode[]) {
      const f = fitReference([c.size[0], c.size[1]], [128, 128], mode, c.person as unknown as [number, number, number, number]);
      const [x, y] = mapPoint(f, c.probe[0], c.probe[1]);
      assert.ok(Math.abs(x - c.at[mode][0]) < 1e-9 && Math.abs(y - c.at[mode][1]) < 1e-9, `${c.size.join('x')} ${mode}: (${x}, ${y})`);
    }
  }
  // without a person a crop is centred; a person taller than the crop keeps their head
  assert.deepEqual(fitReference([300, 600], [128, 128], 'crop').rect, { x: 0, y: 150, width: 300, height: 300 });
  assert.equal(fitReference([300, 600], [128, 128], 'crop', [100, 40, 200, 560]).rect.y, 25);
});

test('the framed reference: crop copies pixels, pad has grey margins', () => {
  const img = createImage(6, 2);
  for (let i = 0; i < 12; i++) img.data.fill(i * 10, i * 3, i * 3 + 3);
  const crop = frameImage(img, fitReference([6, 2], [64, 64], 'crop', [4, 0, 6, 2]));
  assert.deepEqual([crop.width, crop.height, crop.data[0]], [2, 2, 40], 'the 2x2 on the person, from x 4');
  const pad = frameImage(img, fitReference([6, 2], [64, 64], 'pad'));
  assert.deepEqual([pad.width, pad.height], [6, 6]);
  assert.equal(pad.data[0], PAD_GREY);
  assert.equal(pad.data[(2 * 6 + 1) * 3], 10, 'row 0 of the photo starts at row 2');
  assert.equal(frameImage(img, fitReference([6, 2], [64, 64], 'stretch')), img);
});

test('prepareDriving: driving poses aligned to the reference land where the reference is drawn, for each --fit', async () => {
  for (const c of CASES) {
    const [w, h] = c.size;
    const pose = personIn(w, h, c.person as unknown as number[]);
    // the probe is one of the body points: the box centre
    const probe = pose.body[7]!;
    assert.deepEqual([probe[0] * w, probe[1] * h], [...c.probe]);
    const referencePose: PoseFrame = { persons: [pose] };
    // the driving pose is the reference's, shifted and scaled: the alignment puts it back on the reference
    const moved = { ...pose, body: pose.body.map(([x, y, s]) => [0.5 * x + 0.1, 0.5 * y + 0.2, s] as Keypoint) };
    for (const fit of ['crop', 'pad', 'stretch'] as FitMode[]) {
      const d = await prepareDriving(createImage(w, h), { size: [w, h], fps: 30, frames: [{ persons: [moved] }] }, {
        width: 128, height: 128, align: 'svd', referencePose, fit, fps: 30,
      });
      const k = d.frames![0]!.persons[0]!.body[7]!;
      const [x, y] = [k[0] * 128, k[1] * 128];
      assert.ok(Math.abs(x - c.at[fit][0]) < 1e-3 && Math.abs(y - c.at[fit][1]) < 1e-3, `${w}x${h} ${fit}: drawn at (${x}, ${y}), expected (${c.at[fit]})`);
      assert.deepEqual([d.reference.width / d.reference.height, d.images[0]!.width, d.images[0]!.height], [fit === 'stretch' ? w / h : 1, 128, 128]);
    }
  }
});
