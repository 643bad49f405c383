import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { photoLikeRaw } from '../scripts/samples.js';
import { withIrot } from '../test/support/heif-boxes.js';
import { runChild, TSX } from './children.js';
import type { HeicMemory, HeicTiming } from './heic-child.mjs';
import type { Table } from './report.js';
import { ms, ratio, times } from './stats.js';

/**
 * Section 8: HEIC originals. The original is made here once (kept in .bench/corpus/): a 12 MP
 * photo-like image stored as an iPhone stores a portrait photo (4032×3024 sensor pixels, irot
 * and EXIF Orientation 6, Display P3), encoded by heif-enc, libheif's encoder with x265 (Debian:
 * apt-get install libheif-examples). No npm package encodes HEVC: without heif-enc the section
 * is skipped and says why. The same pixels as a JPEG go through renderVariant for scale.
 */
export interface HeicResult {
  readonly original: { readonly bytes: number; readonly description: string };
  readonly timing: HeicTiming;
  readonly memory: { readonly service: HeicMemory; readonly baseline: HeicMemory; readonly jpeg: HeicMemory };
}

const WIDTH = 4032;
/** The HEIC these steps generate, committed (2.8 MB): heif-enc is not on every machine. */
const COMMITTED = join(import.meta.dirname, 'fixtures', 'iphone-12mp.heic');
const HEIGHT = 3024;

function hasHeifEnc(): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v heif-enc'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The 12 MP HEIC and the same pixels as a JPEG, generated once (about 15 s). */
async function heicOriginals(corpusDir: string, log: (line: string) => void): Promise<{ heic: string; jpeg: string }> {
  const dir = join(corpusDir, 'heic-h1');
  const heic = join(dir, 'iphone-12mp.heic');
  const jpeg = join(dir, 'iphone-12mp.jpg');
  if (existsSync(heic) && existsSync(jpeg)) return { heic, jpeg };
  // The committed copy (made by the steps below) spares machines without heif-enc the encoder.
  const committed = existsSync(COMMITTED);
  if (!committed && !hasHeifEnc()) throw new Error('skipped: heif-enc (an HEVC encoder) is not installed; apt-get install libheif-examples');
  mkdirSync(dir, { recursive: true });
  const started = performance.now();
  await sharp(await photoLikeRaw(WIDTH, HEIGHT, 41), { raw: { width: WIDTH, height: HEIGHT, channels: 3 } })
    .withMetadata({ orientation: 6 })
    .withIccProfile('p3')
    .jpeg({ quality: 92 })
    .toFile(`${jpeg}.part`);
  if (committed) {
    writeFileSync(heic, readFileSync(COMMITTED));
    renameSync(`${jpeg}.part`, jpeg);
    return { heic, jpeg };
  }
  const plain = join(dir, 'plain.heic');
  // ultrafast: seconds instead of a minute; the decoder's work is the same kind.
  execFileSync('heif-enc', ['-q', '50', '-p', 'preset=ultrafast', '-o', plain, `${jpeg}.part`], { stdio: 'ignore', timeout: 120_000 });
  writeFileSync(`${heic}.part`, withIrot(readFileSync(plain), 3));
  rmSync(plain);
  renameSync(`${heic}.part`, heic);
  renameSync(`${jpeg}.part`, jpeg);
  log(`heic: generated ${heic} (${(readFileSync(heic).length / 1e6).toFixed(1)} MB) in ${Math.round(performance.now() - started)} ms`);
  return { heic, jpeg };
}

export async function heicSection(options: { corpusDir: string; quick: boolean; log: (line: string) => void }): Promise<HeicResult> {
  const { heic, jpeg } = await heicOriginals(options.corpusDir, options.log);
  const args = JSON.stringify({ heic, jpeg, runs: options.quick ? 2 : 5 });
  const child = <T>(mode: string) =>
    runChild<T>(TSX, ['bench/heic-child.mts', mode, args], { timeoutMs: 120_000, log: (line) => options.log(`  ${line}`) }).then((r) => r.report);
  options.log('heic: 12 MP HEIC → 800w JPEG, renderVariant vs heic-decode + sharp …');
  const timing = await child<HeicTiming>('timing');
  const memory = {
    service: await child<HeicMemory>('rss-service'),
    baseline: await child<HeicMemory>('rss-baseline'),
    jpeg: await child<HeicMemory>('rss-jpeg'),
  };
  return {
    original: { bytes: readFileSync(heic).length, description: `${HEIGHT}×${WIDTH} upright (stored ${WIDTH}×${HEIGHT}, irot + EXIF 6), Display P3, HEVC q50` },
    timing,
    memory,
  };
}

export function heicTables(result: HeicResult): Table[] {
  const { timing, memory } = result;
  const medP90 = (s: { median: number; p90: number }) => `${ms(s.median)} / ${ms(s.p90)}`;
  const mb = (m: HeicMemory) => m.maxRssMb.toFixed(0);
  return [
    {
      title: `8. HEIC original (ms, median / p90): a 12 MP iPhone-style photo, ${(result.original.bytes / 1e6).toFixed(1)} MB, → 800w JPEG; renderVariant vs heic-decode + sharp, same buffer, same process`,
      head: ['case', 'renderVariant', 'heic-decode + sharp', 'ratio', 'peak RSS, own process (MB): ours / baseline'],
      rows: [
        ['HEIC → 800w JPEG', medP90(timing.service), medP90(timing.baseline), times(ratio(timing.service.median, timing.baseline.median)), `${mb(memory.service)} / ${mb(memory.baseline)}`],
        ['decode only (libheif-js, to pixels)', medP90(timing.decode.service), medP90(timing.decode.baseline), times(ratio(timing.decode.service.median, timing.decode.baseline.median)), '—'],
        ['the same pixels as a 12 MP JPEG → 800w JPEG', medP90(timing.jpeg), '—', '—', `${mb(memory.jpeg)} / —`],
        ['first HEIC of a process (libheif-js loaded, compiled, then the render)', ms(timing.firstMs), '—', '—', '—'],
      ],
      notes: [
        `Original: ${result.original.description}. Outputs: ours ${timing.output.service}, baseline ${timing.output.baseline}.`,
        'Ours decodes the primary image to RGB (RGBA with alpha) inside a TIFF carrying the ICC profile, so P3 is converted to sRGB; heic-decode gives RGBA without a profile (colours read as sRGB), decodes the first image rather than the primary, and logs to the console on errors.',
        'Most of the difference is the P3 → sRGB conversion, done at full size: HEIC has no shrink-on-load as JPEG has, and the baseline converts nothing.',
        'The decoder runs on the main thread (WebAssembly, one core) and blocks the event loop meanwhile; its memory grows to the largest image seen (about 75 MB for 12 MP) and is never given back.',
      ],
    },
  ];
}
