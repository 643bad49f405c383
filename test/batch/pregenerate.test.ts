import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeImage, photoLikeJpeg } from '../../scripts/samples.js';
import { expandVariants } from '../../src/batch/job.js';
import { checkOriginal, renderMissing, type PregenerateDeps } from '../../src/batch/pregenerate.js';
import type { ImageStore } from '../../src/storage/image-store.js';
import { storedSource } from '../../src/transform/variant-key.js';
import { startStack, uniqueKey, VARIANTS, type Stack } from '../support/stack.js';

/** The batch worker's (and syncVariants' eager) render step against the real local S3 and sharp. */

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
}, 60_000);
afterAll(() => stack?.close());

async function pregenerate(deps: PregenerateDeps, key: string) {
  const checked = await checkOriginal({ key }, deps);
  return 'pending' in checked ? renderMissing(checked.pending, deps) : checked.outcomes;
}

describe('pregenerate with FRESHNESS=events', () => {
  it('deletes what it wrote from an original replaced during the writes, and renders the new version instead', async () => {
    const key = uniqueKey('batch/replaced-midway.jpg');
    await stack.seed(key, await photoLikeJpeg(300, 200, { seed: 1 }));
    const replacement = await photoLikeJpeg(200, 200, { seed: 2 });
    const newEtag = { value: '' };
    const app = stack.app({ env: { FRESHNESS: 'events' } });
    let replaced = false;
    const store: ImageStore = {
      ...app.store,
      async putVariant(k, body, write) {
        await app.store.putVariant(k, body, write);
        if (!replaced) {
          replaced = true;
          newEtag.value = await stack.seed(key, replacement);
        }
      },
    };
    const variants = [...expandVariants('w=50', app.config), ...expandVariants('w=60&fm=webp', app.config)];
    const deps: PregenerateDeps = { config: app.config, store, variants, dryRun: false, abandon: new AbortController().signal };

    const outcomes = await pregenerate(deps, key);

    expect(outcomes.map((o) => o.status)).toEqual(['done', 'done']);
    for (const outcome of outcomes) {
      const stored = await stack.getObject(VARIANTS, outcome.variantKey!);
      expect(storedSource(stored.metadata).etag).toBe(newEtag.value.replace(/"/g, ''));
      // The square replacement, not the 3:2 original.
      const { width, height } = await describeImage(stored.body);
      expect(width).toBe(height);
    }
  });

  it('in strict mode leaves the check to every hit and asks nothing more after its writes', async () => {
    const key = uniqueKey('batch/strict.jpg');
    await stack.seed(key, await photoLikeJpeg(300, 200, { seed: 3 }));
    const app = stack.app();
    let heads = 0;
    const store: ImageStore = { ...app.store, headOriginal: (k) => (heads++, app.store.headOriginal(k)) };
    const deps: PregenerateDeps = { config: app.config, store, variants: expandVariants('w=40', app.config), dryRun: false, abandon: new AbortController().signal };
    expect((await pregenerate(deps, key)).map((o) => o.status)).toEqual(['done']);
    expect(heads).toBe(1); // the check's own, for a task without a listed ETag
  });
});
