// Progress output: throttled lines off a terminal, the final state always written, durations and bytes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { progressBar } from '../../src/cli/progress-bar.ts';
import { formatBytes, formatDuration } from '../../src/util/format.ts';
import { progressReporter } from '../../src/cli/progress.ts';

function fakeStream(isTTY: boolean): NodeJS.WriteStream & { text: string } {
  const s = { isTTY, text: '', write(chunk: string) { s.text += chunk; return true; } };
  return s as unknown as NodeJS.WriteStream & { text: string };
}

test('durations and byte counts', () => {
  assert.equal(formatDuration(59.4), '59s');
  assert.equal(formatDuration(61), '1m01s');
  assert.equal(formatDuration(3725), '1h02m');
  assert.equal(formatDuration(NaN), '?');
  assert.equal(formatBytes(999), '999 B');
  assert.equal(formatBytes(1_500_000), '1.5 MB');
  assert.equal(formatBytes(250_000_000_000), '250 GB');
});

test('off a terminal: the first update and the last are printed, the ones in between throttled', () => {
  const s = fakeStream(false);
  const bar = progressBar('denoise', { stream: s, intervalSeconds: 3600, width: 4 });
  for (let i = 1; i <= 4; i++) bar.update(i, 4, `step ${i}`);
  bar.finish('done');
  const lines = s.text.trim().split('\n');
  assert.equal(lines.length, 3, s.text);
  assert.match(lines[0], /^denoise \[#---\] 1\/4 {2}\S+ s\/step {2}ETA \S+ {2}step 1$/);
  assert.match(lines[1], /^denoise \[####\] 4\/4 .* step 4$/);
  assert.equal(lines[2], 'done');
});

test('on a terminal: one line rewritten in place, ended by a newline', () => {
  const s = fakeStream(true);
  const report = progressReporter('poses', s, 3600);
  report({ frames: 10, total: 10 });
  report.done();
  assert.ok(s.text.startsWith('\rposes 10/10 frames'), s.text);
  assert.ok(s.text.endsWith('\x1b[K\n'), JSON.stringify(s.text));
});
