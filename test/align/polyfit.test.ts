import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  CONTROLNEXT_KEYPOINT_IDS, STABLEANIMATOR_KEYPOINT_IDS, fitLine, polyfitAlign,
} from '../../src/align/polyfit.ts';
import type { Keypoint, PersonPose, PoseFrame } from '../../src/pose/keypoints.ts';
import { createRng } from '../../src/util/rng.ts';
import { assertNear, randomPerson } from './helpers.ts';

type Xy = [number, number];
interface FixturePose { candidate: Xy[]; faces: Xy[][]; hands: Xy[][] }
interface Fixture {
  reference: { width: number; height: number; candidate: Xy[]; subset: number[][] };
  keypoint_ids_used: number[];
  driven: FixturePose[];
  a: Xy;
  b: Xy;
  aligned: FixturePose[];
}

const fixture = JSON.parse(
  readFileSync(new URL('../fixtures/align_polyfit/stableanimator_polyfit.json', import.meta.url), 'utf8'),
) as Fixture;

const scored = (pts: Xy[], score = 1): Keypoint[] => pts.map(([x, y]): Keypoint => [x, y, score]);
const toPerson = (p: FixturePose): PersonPose => ({
  body: scored(p.candidate), hands: [scored(p.hands[0]!), scored(p.hands[1]!)], face: scored(p.faces[0]!),
});

const reference: PersonPose = {
  body: fixture.reference.candidate.map(([x, y], i): Keypoint => [x, y, fixture.reference.subset[0]![i]! >= 0 ? 1 : 0]),
  hands: [[], []],
  face: [],
};
const refSize = [fixture.reference.width, fixture.reference.height] as const;

test('polyfit matches StableAnimator get_video_pose on the fixture to 1e-9 (a, b and every point)', () => {
  const driven: PoseFrame[] = fixture.driven.map((p) => ({ persons: [toPerson(p)] }));
  const result = polyfitAlign(reference, driven, { refSize });
  assert.deepEqual(result.keypointIds, fixture.keypoint_ids_used);
  assert.equal(result.framesUsed.length, fixture.driven.length);
  assertNear(result.a[0], fixture.a[0], 1e-9, 'ax');
  assertNear(result.a[1], fixture.a[1], 1e-9, 'ay');
  assertNear(result.b[0], fixture.b[0], 1e-9, 'bx');
  assertNear(result.b[1], fixture.b[1], 1e-9, 'by');
  let worst = 0;
  let points = 0;
  result.frames.forEach((frame, f) => {
    const got = frame.persons[0]!;
    const want = toPerson(fixture.aligned[f]!);
    const groups: [Keypoint[], Keypoint[]][] = [[got.body, want.body], [got.hands[0], want.hands[0]], [got.hands[1], want.hands[1]], [got.face, want.face]];
    for (const [g, w] of groups) {
      assert.equal(g.length, w.length);
      g.forEach((k, i) => {
        worst = Math.max(worst, Math.abs(k[0] - w[i]![0]), Math.abs(k[1] - w[i]![1]));
        points++;
      });
    }
  });
  assert.equal(points, 24 * (18 + 42 + 68));
  assert.ok(worst <= 1e-9, `max point error ${worst}`);
  console.log(`polyfit fixture: a/b and ${points} points, max abs error ${worst.toExponential(2)}`);
});

test('polyfit: ControlNeXt ids give the same fit here; frames with 0 or 2 persons are skipped but still moved', () => {
  const frames: PoseFrame[] = fixture.driven.map((p) => ({ persons: [toPerson(p)] }));
  const rng = createRng(3);
  const extra = randomPerson(rng);
  frames.splice(3, 0, { persons: [] }, { persons: [toPerson(fixture.driven[0]!), extra] });
  const result = polyfitAlign(reference, frames, { refSize, keypointIds: CONTROLNEXT_KEYPOINT_IDS });
  assert.deepEqual(result.framesUsed, [0, 1, 2, ...Array.from({ length: 21 }, (_, i) => i + 5)]);
  assertNear(result.a[1], fixture.a[1], 1e-9, 'ay');
  assertNear(result.b[1], fixture.b[1], 1e-9, 'by');
  const moved = result.frames[4]!.persons[1]!.body[0]!;
  assertNear(moved[0], extra.body[0]![0] * result.a[0] + result.b[0], 1e-12, 'x of the second person');
  assert.equal(result.frames[3]!.persons.length, 0);
  assert.equal(STABLEANIMATOR_KEYPOINT_IDS.length, 14);
});

test("polyfit: MimicMotion's aspect rule ax = ay·(fw/fh)·(H/W)", () => {
  const driven: PoseFrame[] = fixture.driven.map((p) => ({ persons: [toPerson(p)] }));
  const drivenSize = [1280, 720] as const;
  const r = polyfitAlign(reference, driven, { refSize, drivenSize, aspect: 'mimicmotion' });
  assertNear(r.a[1], fixture.a[1], 1e-12, 'ay unchanged');
  assertNear(r.a[0], fixture.a[1] * (1280 / 720) * (768 / 512), 1e-12, 'ax');
  // Same size for video and reference: the rule reduces to ax = ay.
  const same = polyfitAlign(reference, driven, { refSize, drivenSize: refSize, aspect: 'mimicmotion' });
  assertNear(same.a[0], same.a[1], 1e-15, 'ax = ay');
});

test('fitLine is the least-squares line', () => {
  const { slope, intercept } = fitLine([0, 1, 2, 3], [1, 3, 2, 6]);
  // Hand computed: mean x 1.5, mean y 3; dx = (-1.5, -0.5, 0.5, 1.5), dy = (-2, 0, -1, 3): Sxy = 7, Sxx = 5.
  assertNear(slope, 1.4, 1e-15, 'slope');
  assertNear(intercept, 0.9, 1e-15, 'intercept');
  assert.throws(() => fitLine([1, 1], [0, 2]), /all x values are equal/);
});

test('polyfit errors: empty sequence, nothing visible in the reference, no single-person frame, wrong counts', () => {
  const one: PoseFrame = { persons: [toPerson(fixture.driven[0]!)] };
  assert.throws(() => polyfitAlign(reference, [], { refSize }), /driven sequence is empty/);
  const blind: PersonPose = { ...reference, body: reference.body.map(([x, y]): Keypoint => [x, y, 0]) };
  assert.throws(() => polyfitAlign(blind, [one], { refSize }), /no keypoint used for alignment is visible in the reference/);
  const two: PoseFrame = { persons: [toPerson(fixture.driven[0]!), toPerson(fixture.driven[1]!)] };
  assert.throws(() => polyfitAlign(reference, [two, { persons: [] }], { refSize }), /none of the 2 driven frames has exactly one person/);
  const short: PoseFrame = { persons: [{ ...one.persons[0]!, body: one.persons[0]!.body.slice(0, 17) }] };
  assert.throws(() => polyfitAlign(reference, [short], { refSize }), /driven frame 0 has 17 body keypoints, expected 18/);
  assert.throws(() => polyfitAlign({ ...reference, body: reference.body.slice(0, 5) }, [one], { refSize }), /reference body has 5 keypoints/);
});
