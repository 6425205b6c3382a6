// The synchronous PNG encoder: sharp decodes what it writes to the same pixels.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readImage, type Image } from '../../src/io/image.ts';
import { encodePngSync } from '../../src/io/png-sync.ts';

const dir = mkdtempSync(join(tmpdir(), 'png-sync-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('RGB and RGBA images round-trip through sharp pixel for pixel', async () => {
  for (const channels of [3, 4] as const) {
    const image: Image = { width: 7, height: 5, channels, data: new Uint8Array(7 * 5 * channels).map((_, i) => (i * 37 + 11) % 256) };
    const path = join(dir, `c${channels}.png`);
    writeFileSync(path, encodePngSync(image));
    const back = await readImage(path, { channels });
    assert.deepEqual([back.width, back.height, back.channels], [7, 5, channels]);
    assert.deepEqual(Array.from(back.data), Array.from(image.data));
  }
  assert.throws(() => encodePngSync({ width: 1, height: 1, channels: 1 as 3, data: new Uint8Array(1) }), /expected 3 or 4 channels, got 1/);
});
