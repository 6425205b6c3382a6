// Side-by-side frames (layout, held stills, labels, scaling) and the HTML report (escaping, structure).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createImage, type Image } from '../../src/io/image.ts';
import { renderHtmlReport } from '../../src/io/html-report.ts';
import { sideBySide } from '../../src/io/side-by-side.ts';

function solid(w: number, h: number, rgb: [number, number, number]): Image {
  const img = createImage(w, h);
  for (let i = 0; i < w * h; i++) img.data.set(rgb, i * 3);
  return img;
}
const at = (img: Image, x: number, y: number) => Array.from(img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3));

test('side by side: a still is held, sequences advance, pictures scaled to one height under their labels', () => {
  const still = solid(8, 8, [255, 0, 0]);
  const seq = [solid(4, 8, [0, 0, 10]), solid(4, 8, [0, 0, 20]), solid(4, 8, [0, 0, 30])];
  const frames = sideBySide([{ label: 'R', frames: [still] }, { label: 'S', frames: seq }], { height: 16, labelScale: 1, gap: 2 });
  assert.equal(frames.length, 3);
  // label row: 7 dots + 2 gaps = 11 pixels; panel 1 is 16 wide (8x8 scaled to 16 high), panel 2 is 8 wide
  const labelH = 11;
  for (let t = 0; t < 3; t++) {
    const f = frames[t]!;
    assert.equal(f.width % 2, 0);
    assert.equal(f.height % 2, 0);
    assert.deepEqual(at(f, 2, labelH), [255, 0, 0]);
    assert.deepEqual(at(f, 2 + 15, labelH + 15), [255, 0, 0]);
    assert.deepEqual(at(f, 2 + 16 + 2 + 3, labelH + 8), [0, 0, 10 * (t + 1)]);
    assert.deepEqual(at(f, 2 + 16 + 2 + 3, 0), [255, 255, 255], 'background above the label');
  }
  // the label's glyph is drawn in black somewhere in the label row of the first panel
  const f0 = frames[0]!;
  let black = 0;
  for (let y = 0; y < labelH; y++) for (let x = 0; x < 20; x++) if (at(f0, x, y).every((v) => v === 0)) black++;
  assert.ok(black > 5, `label pixels ${black}`);
});

test('side by side: panels of different lengths are refused with the counts', () => {
  const a = [solid(2, 2, [0, 0, 0]), solid(2, 2, [0, 0, 0])];
  const b = [solid(2, 2, [0, 0, 0]), solid(2, 2, [0, 0, 0]), solid(2, 2, [0, 0, 0])];
  assert.throws(() => sideBySide([{ label: 'a', frames: a }, { label: 'b', frames: b }]), /panel 'a' has 2 frames, expected 1 or 3/);
});

test('HTML report: text escaped, tables and images rendered', () => {
  const html = renderHtmlReport('Demo <1>', [
    { kind: 'heading', text: 'Metrics & more' },
    { kind: 'table', columns: ['metric', 'value'], rows: [['PSNR', 21.123456], ['frames', 16]] },
    { kind: 'images', items: [{ src: 'frames/0.png', caption: 'a "frame"' }] },
  ]);
  assert.match(html, /<title>Demo &lt;1&gt;<\/title>/);
  assert.match(html, /<h2>Metrics &amp; more<\/h2>/);
  assert.match(html, /<td>PSNR<\/td><td>21.12<\/td>/);
  assert.match(html, /<td>frames<\/td><td>16<\/td>/);
  assert.match(html, /<img src="frames\/0.png" alt="a &quot;frame&quot;">/);
});
