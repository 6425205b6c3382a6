// The web page in a real browser (Debian's chromium through playwright-core): upload a photo, pick a shipped
// motion, see the pose preview, the live progress, and a result video that plays (its duration read in the
// page). STABLE_ANIMATOR_SCREENSHOTS=docs/images saves a screenshot of each stage there (serve-*.png).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { Harness, PHOTO } from './harness.ts';

const CHROMIUM = '/usr/bin/chromium';
const shots = process.env.STABLE_ANIMATOR_SCREENSHOTS;
const h = new Harness();
let browser: Browser | undefined;
after(async () => {
  await browser?.close();
  await h.stop();
});

test('the page: photo + shipped motion -> pose preview -> progress -> a playing result video', { skip: !existsSync(CHROMIUM) && `no ${CHROMIUM}` }, async () => {
  await h.start();
  h.worker();
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: process.getuid?.() === 0 ? ['--no-sandbox'] : [] });
  const page = await browser.newPage({ viewport: { width: 1000, height: 1100 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(h.url + '/');
  await page.waitForFunction(() => (document.getElementById('motion') as HTMLSelectElement).options.length > 0);
  assert.equal(await page.inputValue('#motion'), 'ad_dab');
  await page.setInputFiles('#photo', PHOTO);
  await page.fill('#frames', '4');
  await page.fill('#steps', '4');
  await page.fill('#seed', '7');

  await page.click('#preview-button');
  await page.waitForFunction(() => {
    const img = document.getElementById('preview') as HTMLImageElement;
    return !img.hidden && img.complete && img.naturalWidth > 0;
  }, undefined, { timeout: 120000 });
  assert.match(await page.textContent('#progress-text') ?? '', /done .* 4 frames at 128x128 \(alignment: learned\)/);
  if (shots) await page.screenshot({ path: join(shots, 'serve-preview.png'), fullPage: true });

  await page.click('#animate-button');
  await page.waitForFunction(() => /denoise · step [1-3]\/4/.test(document.getElementById('progress-text')!.textContent ?? ''), undefined, { timeout: 120000 });
  // the live frame of the running step
  await page.waitForFunction(() => {
    const img = document.getElementById('live') as HTMLImageElement;
    return !img.hidden && img.complete && img.naturalWidth === 128;
  }, undefined, { timeout: 120000 });
  if (shots) await page.screenshot({ path: join(shots, 'serve-progress.png'), fullPage: true });

  await page.waitForFunction(() => {
    const v = document.getElementById('result') as HTMLVideoElement;
    return !v.hidden && v.readyState >= 1 && Number.isFinite(v.duration);
  }, undefined, { timeout: 120000 });
  const playing = await page.evaluate(async () => {
    const v = document.getElementById('result') as HTMLVideoElement;
    await v.play();
    await new Promise((r) => setTimeout(r, 300));
    return { duration: v.duration, time: v.currentTime, width: v.videoWidth, height: v.videoHeight };
  });
  // the shipped 30 fps motion sampled at the miniature's training rate (weights/mini/miniature.json: 5 fps)
  assert.ok(Math.abs(playing.duration - 4 / 5) < 0.05, `4 frames at 5 fps: ${playing.duration} s`);
  assert.ok(playing.time > 0, 'the video advances');
  assert.deepEqual([playing.width, playing.height], [128, 128]);
  assert.ok(await page.isVisible('#download'));
  await page.waitForFunction(() => /done in/.test(document.getElementById('log')!.textContent ?? ''));
  await page.click('summary');
  assert.match(await page.textContent('#log') ?? '', /started on worker .*\n.*loading\n.*poses\n.*denoise\n.*decode\n.*writing\n.*done in/);
  await page.waitForFunction(() => document.querySelectorAll('#jobs tbody tr').length === 2 && [...document.querySelectorAll('#jobs .status')].every((s) => s.textContent === 'done'), undefined, { timeout: 10000 });
  if (shots) await page.screenshot({ path: join(shots, 'serve-result.png'), fullPage: true });
  assert.deepEqual(errors, []);
});
