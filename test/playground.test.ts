import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import sharp from 'sharp';
import { describeImage } from '../scripts/samples.js';
import { freePort, startStack, type Stack } from '../scripts/stack.mjs';

/**
 * The playground page in a real browser (Chromium driven by playwright-core) against the
 * `npm start` stack on free ports: controls, figures, deep links, errors, phone width, keyboard,
 * signing done by the server. Screenshots go to .screenshots/ (git-ignored);
 * PLAYGROUND_DOCS_SCREENSHOT=1 also rewrites docs/playground.png.
 * Without a Chromium on the machine (CHROMIUM_PATH, or chromium / chromium-browser /
 * google-chrome on PATH) every test here is skipped, and says so.
 */

// The callbacks given to page.evaluate run in the page; this program has no DOM types.
declare const document: any, window: any, getComputedStyle: any;

const ROOT = resolve(import.meta.dirname, '..');
const SHOTS = join(ROOT, '.screenshots');
const WAIT_MS = 60_000;

function findChromium(): string | undefined {
  if (process.env.CHROMIUM_PATH) return existsSync(process.env.CHROMIUM_PATH) ? process.env.CHROMIUM_PATH : undefined;
  for (const name of ['chromium', 'chromium-browser', 'google-chrome-stable', 'google-chrome']) {
    try {
      const path = execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8', timeout: 5000 }).trim();
      if (path) return path;
    } catch {
      // Not this one.
    }
  }
  return undefined;
}

const CHROMIUM = findChromium();
if (!CHROMIUM) {
  console.warn('test/playground.test.ts: chromium not found (apt-get install -y chromium, or set CHROMIUM_PATH): the browser tests are SKIPPED.');
}
const suite = CHROMIUM ? `the playground in Chromium (${CHROMIUM})` : 'the playground in a browser — SKIPPED: chromium not found';

/** The `npm start` stack on free ports; when it does not come up, its last log lines are shown. */
async function startLocalStack(env?: Record<string, string>): Promise<Stack> {
  const lines: string[] = [];
  try {
    return await startStack({
      s3Port: 0,
      httpPort: await freePort(),
      lambdaPort: await freePort(),
      originalsBucket: 'originals',
      variantsBucket: 'variants',
      env,
      log: (line) => void lines.push(line),
      startTimeoutMs: 240_000,
    });
  } catch (error) {
    console.error(`The local stack did not start; its last lines:\n${lines.slice(-40).join('\n')}`);
    throw error;
  }
}

const launch = () => chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'], timeout: WAIT_MS });

/** Waits (bounded) until the element's text matches; fails with the text it last had. */
async function waitForText(page: Page, selector: string, expected: RegExp, timeout = WAIT_MS): Promise<string> {
  try {
    await page.waitForFunction(
      ({ selector, source, flags }) => new RegExp(source, flags).test(document.querySelector(selector)?.textContent ?? ''),
      { selector, source: expected.source, flags: expected.flags },
      { timeout },
    );
  } catch (error) {
    const text = await page.textContent(selector, { timeout: 1000 }).catch(() => null);
    const problem = await page.textContent('#result-error', { timeout: 1000 }).catch(() => null);
    throw new Error(`${selector} never matched ${expected} (it has ${JSON.stringify(text)}; #result-error: ${JSON.stringify(problem)})`, { cause: error });
  }
  return (await page.textContent(selector))!;
}

const figures = (page: Page) =>
  page.evaluate(() => {
    const text = (id: string) => document.getElementById(id)?.textContent ?? '';
    const image = document.getElementById('result-image');
    return {
      format: text('result-format'),
      dimensions: text('result-dimensions'),
      bytes: Number(document.getElementById('result-bytes')?.dataset.bytes),
      saving: text('result-saving'),
      ttfb: text('result-ttfb'),
      cache: text('result-cache'),
      natural: [image.naturalWidth, image.naturalHeight],
      imageShown: !image.hidden && image.src !== '',
      url: (document.getElementById('result-url')).value,
    };
  });

describe.skipIf(!CHROMIUM)(suite, () => {
  let stack: Stack;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    [stack, browser] = await Promise.all([startLocalStack(), launch()]);
    context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    page = await context.newPage();
    page.setDefaultTimeout(WAIT_MS);
  }, 300_000);
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  }, 60_000);

  it('picks an original, sets width and format through the controls, shows the figures; X-Cache miss, then hit on reload', async () => {
    await page.goto(`${stack.baseUrl}/_playground`);
    await page.click('button.original[data-key="photos/landscape.jpg"]');
    await waitForText(page, '#original-dimensions', /^4000 × 3000$/);
    await page.fill('#p-w', '300');
    await page.selectOption('#p-fm', 'webp');
    await waitForText(page, '#result-format', /^webp$/);
    await waitForText(page, '#result-dimensions', /^300 × 225$/);

    const first = await figures(page);
    expect(first).toMatchObject({ format: 'webp', dimensions: '300 × 225', cache: 'miss', natural: [300, 225], imageShown: true });
    expect(first.bytes).toBeGreaterThan(500);
    expect(first.saving).toMatch(/^\d+(\.\d)? % smaller$/);
    expect(first.ttfb).toMatch(/^\d+ ms$/);
    expect(first.url).toBe(`${stack.baseUrl}/photos/landscape.jpg?w=300&fm=webp`);
    // The URL shown is the one the API answers, with the same bytes.
    const direct = Buffer.from(await (await fetch(first.url, { signal: AbortSignal.timeout(30_000) })).arrayBuffer());
    expect(direct.length).toBe(first.bytes);
    expect(await describeImage(direct)).toMatchObject({ format: 'webp', width: 300, height: 225 });
    // The page's own URL is the deep link.
    const own = new URL(page.url());
    expect([own.pathname, own.searchParams.get('key'), own.searchParams.get('w'), own.searchParams.get('fm')]).toEqual(['/_playground', 'photos/landscape.jpg', '300', 'webp']);
    await page.screenshot({ path: join(SHOTS, 'desktop.png'), fullPage: true });

    await page.reload();
    await waitForText(page, '#result-cache', /^hit$/);
    expect(await figures(page)).toMatchObject({ format: 'webp', dimensions: '300 × 225', natural: [300, 225] });

    if (process.env.PLAYGROUND_DOCS_SCREENSHOT === '1') {
      const shot = await page.screenshot({ fullPage: false });
      const png = await sharp(shot).resize({ width: 1100 }).png({ palette: true, colours: 96, effort: 10 }).toBuffer();
      writeFileSync(join(ROOT, 'docs/playground.png'), png);
      expect(png.length).toBeLessThan(150 * 1024);
    }
  }, 180_000);

  it('opens a deep link and shows its result at once, with the controls set from it', async () => {
    await page.goto(`${stack.baseUrl}/_playground?key=photos/rotated-exif.jpg&w=200&fm=png&gray&rot=90`);
    await waitForText(page, '#result-format', /^png$/);
    // rotated-exif shows as 800×1200 (EXIF applied); rot=90 makes it 1200×800, w=200 then 200×133.
    await waitForText(page, '#result-dimensions', /^200 × 133$/);
    expect((await figures(page)).natural).toEqual([200, 133]);
    const controls = await page.evaluate(() => ({
      w: document.getElementById('p-w').value,
      fm: document.getElementById('p-fm').value,
      rot: document.getElementById('p-rot').value,
      gray: document.getElementById('p-gray').checked,
    }));
    expect(controls).toEqual({ w: '200', fm: 'png', rot: '90', gray: true });
    expect((await figures(page)).url).toBe(`${stack.baseUrl}/photos/rotated-exif.jpg?w=200&fm=png&gray&rot=90`);
    await page.screenshot({ path: join(SHOTS, 'deep-link.png'), fullPage: true });
  }, 120_000);

  it('shows an API error as its status, code and message, never as a broken image', async () => {
    await page.goto(`${stack.baseUrl}/_playground?key=photos/landscape.jpg&w=300&fm=webp`);
    await waitForText(page, '#result-format', /^webp$/);
    await page.fill('#p-w', '99999');
    const message = await waitForText(page, '#result-error', /^400 invalid_param /);
    expect(message).toContain('"w"');
    expect(await page.isVisible('#result-error')).toBe(true);
    expect(await figures(page)).toMatchObject({ imageShown: false, format: '–', dimensions: '–' });
    await page.screenshot({ path: join(SHOTS, 'error.png'), fullPage: true });

    await page.fill('#p-w', '120');
    await waitForText(page, '#result-dimensions', /^120 × 90$/);
    expect(await page.isVisible('#result-error')).toBe(false);

    await page.goto(`${stack.baseUrl}/_playground?key=photos/missing.jpg&w=100`);
    expect(await waitForText(page, '#result-error', /^404 original_not_found /)).toContain('photos/missing.jpg');
  }, 120_000);

  it('is usable with the keyboard: search, pick, visible focus', async () => {
    await page.goto(`${stack.baseUrl}/_playground`);
    await page.waitForSelector('button.original');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('search');
    await page.keyboard.type('photos/rot');
    await page.waitForFunction(() => document.querySelectorAll('button.original').length === 1, undefined, { timeout: WAIT_MS });
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => {
      const active = document.activeElement;
      return { key: active.dataset.key, outline: getComputedStyle(active).outlineStyle };
    });
    expect(focused).toEqual({ key: 'photos/rotated-exif.jpg', outline: 'solid' });
    await page.keyboard.press('Enter');
    await waitForText(page, '#result-dimensions', /^800 × 1200$/);
    expect(await page.getAttribute('button.original[data-key="photos/rotated-exif.jpg"]', 'aria-current')).toBe('true');
  }, 120_000);

  it('fits a phone-width viewport: one column, nothing wider than the screen', async () => {
    const phone = await browser.newContext({ viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true });
    try {
      const small = await phone.newPage();
      small.setDefaultTimeout(WAIT_MS);
      await small.goto(`${stack.baseUrl}/_playground?key=graphics/logo%20alpha.png&w=256&fm=webp`);
      await waitForText(small, '#result-format', /^webp$/);
      await waitForText(small, '#result-dimensions', /^256 × 256$/);
      const layout = await small.evaluate(() => {
        const width = window.innerWidth;
        const wider = ([...document.querySelectorAll('body *')] as any[])
          .filter((e) => e.getClientRects().length > 0 && e.getBoundingClientRect().right > width + 1)
          .map((e) => `${e.tagName.toLowerCase()}#${e.id}.${e.className}`);
        const side = document.querySelector('.side')!.getBoundingClientRect();
        const results = document.querySelector('.results')!.getBoundingClientRect();
        return { width, scrollWidth: document.documentElement.scrollWidth, wider, stacked: results.top >= side.bottom };
      });
      expect(layout).toEqual({ width: 375, scrollWidth: 375, wider: [], stacked: true });
      await small.screenshot({ path: join(SHOTS, 'phone.png'), fullPage: true });
    } finally {
      await phone.close();
    }
  }, 120_000);
});

describe.skipIf(!CHROMIUM)(`${suite}, with signed URLs`, () => {
  const SECRET = 'playground-test-secret-0123456789';
  let stack: Stack;
  let browser: Browser;

  beforeAll(async () => {
    [stack, browser] = await Promise.all([startLocalStack({ SIGNING_SECRETS: SECRET }), launch()]);
  }, 300_000);
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  }, 60_000);

  it('has every URL signed by its server, and the secret never reaches the browser', async () => {
    const context = await browser.newContext();
    const seen: string[] = [];
    try {
      const page = await context.newPage();
      page.setDefaultTimeout(WAIT_MS);
      page.on('response', (response) => {
        if (response.url().includes('/_playground')) seen.push(response.url());
      });
      const bodies: Promise<string>[] = [];
      page.on('response', (response) => {
        if (response.url().includes('/_playground')) bodies.push(response.text().catch(() => ''));
      });
      await page.goto(`${stack.baseUrl}/_playground?key=photos/landscape.jpg&w=240&fm=webp`);
      await waitForText(page, '#result-dimensions', /^240 × 180$/);
      expect(await page.isVisible('#signing-note')).toBe(true);
      const url = new URL((await figures(page)).url);
      expect(url.searchParams.get('s')).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(seen.some((u) => u.includes('/_playground/api/sign?'))).toBe(true);
      // Page, script, configuration and signing answers: none of them holds the secret.
      const texts = await Promise.all(bodies);
      expect(texts.length).toBeGreaterThanOrEqual(4);
      expect(texts.filter((b) => b.includes(SECRET))).toEqual([]);
      // Without its signature the same URL is refused.
      url.searchParams.delete('s');
      expect((await fetch(url, { signal: AbortSignal.timeout(30_000) })).status).toBe(403);
    } finally {
      await context.close();
    }
  }, 120_000);
});
