import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { photoLikeRaw } from '../scripts/samples.js';

/**
 * The benchmark's originals, generated once and kept in `.bench/corpus/` (git-ignored): photo-like
 * pixels (smooth colour fields under fine grain, see scripts/samples.ts) with what camera files
 * carry — EXIF and an sRGB ICC profile, so the service's profile conversion runs as it would on a
 * real upload. Deterministic: the same bytes on every machine and every run.
 */
export type ImageId = 'photo16p' | 'photo16b' | 'photo3' | 'alpha6';

export interface CorpusImage {
  readonly id: ImageId;
  /** Object key in the originals bucket, and path below the corpus folder for ipx. */
  readonly key: string;
  readonly file: string;
  readonly contentType: string;
  readonly description: string;
  readonly width: number;
  readonly height: number;
  /** Carries an ICC profile (the service then converts to sRGB and tags the output). */
  readonly icc: boolean;
  readonly bytes: number;
}

export type Corpus = Readonly<Record<ImageId, CorpusImage>>;

// Bump when a generator below changes, so a stale corpus is rebuilt.
const CORPUS_VERSION = 'c1';

interface Spec {
  readonly id: ImageId;
  readonly key: string;
  readonly contentType: string;
  readonly description: string;
  readonly width: number;
  readonly height: number;
  readonly icc: boolean;
  make(): Promise<Buffer>;
}

const EXIF = { IFD0: { Make: 'image-resizer', Model: 'bench corpus', Software: 'sharp' } };

async function photo(width: number, height: number, seed: number, progressive: boolean): Promise<Buffer> {
  return sharp(await photoLikeRaw(width, height, seed), { raw: { width, height, channels: 3 } })
    .withIccProfile('srgb')
    .withExif(EXIF)
    .jpeg({ quality: 88, progressive, chromaSubsampling: '4:2:0' })
    .toBuffer();
}

/** A photo cut out with a soft-edged ellipse: real alpha (not 0/255 only), photo-like colour. */
async function cutout(width: number, height: number, seed: number): Promise<Buffer> {
  const rgb = await photoLikeRaw(width, height, seed);
  const rgba = Buffer.alloc(width * height * 4);
  for (let y = 0, p = 0; y < height; y++) {
    const dy = (2 * y) / height - 1;
    for (let x = 0; x < width; x++, p++) {
      const dx = (2 * x) / width - 1;
      const r = Math.sqrt(dx * dx + dy * dy);
      rgba[p * 4] = rgb[p * 3]!;
      rgba[p * 4 + 1] = rgb[p * 3 + 1]!;
      rgba[p * 4 + 2] = rgb[p * 3 + 2]!;
      rgba[p * 4 + 3] = Math.round(255 * Math.max(0, Math.min(1, (1 - r) / 0.25)));
    }
  }
  return sharp(rgba, { raw: { width, height, channels: 4 } }).png({ compressionLevel: 6 }).toBuffer();
}

const SPECS: readonly Spec[] = [
  {
    id: 'photo16p',
    key: 'bench/photo-16mp-progressive.jpg',
    contentType: 'image/jpeg',
    description: '16 MP progressive JPEG (4896×3264, q88, EXIF + sRGB ICC)',
    width: 4896,
    height: 3264,
    icc: true,
    make: () => photo(4896, 3264, 11, true),
  },
  {
    id: 'photo16b',
    key: 'bench/photo-16mp-baseline.jpg',
    contentType: 'image/jpeg',
    description: '16 MP baseline JPEG (same pixels as the progressive one)',
    width: 4896,
    height: 3264,
    icc: true,
    make: () => photo(4896, 3264, 11, false),
  },
  {
    id: 'photo3',
    key: 'bench/photo-3mp.jpg',
    contentType: 'image/jpeg',
    description: '3 MP baseline JPEG (2048×1536, q88, EXIF + sRGB ICC)',
    width: 2048,
    height: 1536,
    icc: true,
    make: () => photo(2048, 1536, 23, false),
  },
  {
    id: 'alpha6',
    key: 'bench/cutout-6mp-alpha.png',
    contentType: 'image/png',
    description: '6 MP PNG with alpha (3000×2000 RGBA photo cut-out, soft edges)',
    width: 3000,
    height: 2000,
    icc: false,
    make: () => cutout(3000, 2000, 37),
  },
];

/** Finds the corpus in `dir`, generating whatever is missing (about 10 s the first time). */
export async function loadCorpus(dir: string, log: (line: string) => void): Promise<Corpus> {
  const root = join(dir, CORPUS_VERSION);
  mkdirSync(join(root, 'bench'), { recursive: true });
  const out = {} as Record<ImageId, CorpusImage>;
  for (const spec of SPECS) {
    const file = join(root, spec.key);
    if (!existsSync(file)) {
      const started = performance.now();
      const body = await spec.make();
      // Written under another name first: an interrupted run never leaves half a file behind.
      writeFileSync(`${file}.part`, body);
      renameSync(`${file}.part`, file);
      log(`corpus: generated ${spec.key} (${(body.length / 1e6).toFixed(1)} MB) in ${Math.round(performance.now() - started)} ms`);
    }
    const { make: _make, ...rest } = spec;
    out[spec.id] = { ...rest, file, bytes: readFileSync(file).length };
  }
  return out;
}

export function corpusRoot(dir: string): string {
  return join(dir, CORPUS_VERSION);
}
