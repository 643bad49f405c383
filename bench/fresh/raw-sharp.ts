import { peakRssKb } from './peak-rss.js';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { rawTransform, type Recipe } from '../cases.js';

/**
 * The memory baseline: a fresh process that imports only sharp, with the service's global sharp
 * setting (cache off), and does the same transform on the original read from disk.
 * Usage: node raw-sharp.js <file> <recipe json, with icc: whether the original has a profile>  →  BENCH {…}
 */
const [file, recipeJson] = process.argv.slice(2) as [string, string];
sharp.cache(false);
const initMs = performance.now();
const rssAfterInit = process.memoryUsage.rss();
const input = readFileSync(file);
const recipe = JSON.parse(recipeJson) as Recipe & { icc: boolean };
rawTransform(sharp, input, recipe, recipe.icc)
  .toBuffer()
  .then((out) => {
    const responseMs = performance.now();
    process.stdout.write(
      `BENCH ${JSON.stringify({ status: 200, bytes: out.length, initMs, responseMs, rssAfterInitKb: Math.round(rssAfterInit / 1024), maxRssKb: peakRssKb() })}\n`,
    );
  });
