// The plot rasteriser: ticks, labels, font, and line/histogram images with real pixels where they belong.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readImage } from '../../src/io/image.ts';
import { Canvas, formatTick, logTicks, niceTicks, plotHistograms, plotLines, savePlot, textWidth } from '../../src/io/plot.ts';

const dir = mkdtempSync(join(tmpdir(), 'plot-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('ticks: round steps of 1, 2 or 5 x 10^k; log ticks; compact labels', () => {
  assert.deepEqual(niceTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(0, 3000, 6), [0, 500, 1000, 1500, 2000, 2500, 3000]);
  assert.deepEqual(niceTicks(-7, 7, 4), [-5, 0, 5]);
  assert.deepEqual(logTicks(0.01, 0.3), [0.01, 0.02, 0.05, 0.1, 0.2]);
  assert.deepEqual(logTicks(1e-4, 1), [1e-4, 1e-3, 1e-2, 0.1, 1]);
  assert.equal(formatTick(0), '0');
  assert.equal(formatTick(0.30000000000000004), '0.3');
  assert.equal(formatTick(2500), '2500');
  assert.equal(formatTick(0.0001), '1e-4');
  assert.equal(formatTick(250000), '2.5e5');
});

test('font: 5x7 glyphs, 6 pixels per character; lower case drawn as capitals; unknown as "?"', () => {
  const c = new Canvas(20, 9, [255, 255, 255]);
  assert.equal(c.text(1, 1, '1a', [0, 0, 0]), 12);
  const ink = (x: number, y: number) => c.image.data[(y * 20 + x) * 3] === 0;
  // "1": column 2 of rows 0-6 is set, row 6 is 01110.
  for (let r = 0; r < 7; r++) assert.ok(ink(1 + 2, 1 + r), `1 stem row ${r}`);
  assert.deepEqual([0, 1, 2, 3, 4].map((x) => ink(1 + x, 7)), [false, true, true, true, false]);
  // "a" as "A": row 3 is 11111.
  assert.deepEqual([0, 1, 2, 3, 4].map((x) => ink(7 + x, 4)), [true, true, true, true, true]);
  assert.equal(textWidth('abc', 2), 36);
});

test('line plot and histogram: sized RGB images with the series colours drawn, saved as PNG', async () => {
  const x = Array.from({ length: 100 }, (_, i) => i);
  const img = plotLines([
    { label: 'loss', x, y: x.map((i) => 1 / (i + 1)), color: [255, 0, 0] },
    { label: 'baseline', x: [], y: [0.05], color: [0, 0, 255], style: 'hline' },
  ], { width: 400, height: 300, title: 'Loss', xLabel: 'step', yLabel: 'value', logY: true });
  assert.equal(img.width, 400);
  assert.equal(img.height, 300);
  assert.equal(img.channels, 3);
  const count = (rgb: [number, number, number]) => {
    let n = 0;
    for (let i = 0; i < img.data.length; i += 3) if (img.data[i] === rgb[0] && img.data[i + 1] === rgb[1] && img.data[i + 2] === rgb[2]) n++;
    return n;
  };
  assert.ok(count([255, 0, 0]) > 300, `red pixels ${count([255, 0, 0])}`);
  assert.ok(count([0, 0, 255]) > 200, `blue pixels ${count([0, 0, 255])}`);
  await savePlot(join(dir, 'lines.png'), img);
  const back = await readImage(join(dir, 'lines.png'));
  assert.deepEqual([back.width, back.height], [400, 300]);
  assert.deepEqual(back.data, img.data);

  const hist = plotHistograms([{ label: 'a', values: [0.1, 0.1, 0.2, 0.3], color: [0, 200, 0] }], { bins: 4, range: [0, 0.4], width: 300, height: 200 });
  assert.equal(hist.width, 300);
  assert.throws(() => plotHistograms([{ label: 'a', values: [] }]), /no finite values/);
  assert.throws(() => plotLines([{ label: 'bad', x: [1, 2], y: [1] }]), /series "bad" has 2 x and 1 y values/);
});

test('a title too wide for double size is drawn whole at single size, centred; a short one stays double', () => {
  const x = [0, 1, 2];
  const titleInk = (title: string) => {
    const img = plotLines([{ label: 'a', x, y: [1, 2, 3], color: [255, 0, 0] }], { width: 800, height: 300, title });
    const cols: number[] = [];
    for (let y = 0; y < 22; y++) for (let c = 0; c < img.width; c++) {
      const i = (y * img.width + c) * 3;
      if (img.data[i] < 128 && img.data[i + 1] < 128 && img.data[i + 2] < 128) cols.push(c);
    }
    return { min: Math.min(...cols), max: Math.max(...cols) };
  };
  const long = 'held-out validation (3 cases): PSNR, ours vs repeating the reference'; // 69 chars: 828 px at double size, 414 at single
  const ink = titleInk(long);
  assert.ok(ink.min >= (800 - textWidth(long)) / 2 - 1 && ink.max <= (800 + textWidth(long)) / 2, `title ink spans ${ink.min}..${ink.max}`);
  assert.ok(ink.max - ink.min >= textWidth(long) - 12, `the whole title is drawn: ink spans ${ink.max - ink.min} px of ${textWidth(long)}`);
  const short = titleInk('Loss');
  assert.ok(short.max - short.min > textWidth('Loss') + 6, `double size: ${short.min}..${short.max}`);
});
