import sharp from 'sharp';

/**
 * Images the project makes itself, for `npm start`, the tests and the benchmarks: no binary
 * fixtures in the repository. The one dev-side module that imports sharp (the service's own
 * sharp use is in src/transform/pipeline.ts).
 */
export interface SampleObject {
  readonly key: string;
  readonly body: Buffer;
  readonly contentType: string;
  readonly description: string;
}

/** Deterministic pseudo-random bytes (xorshift), so generated images are the same on every run. */
export function seededBytes(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/**
 * Smooth colour fields (a few random colours enlarged with a cubic kernel) under fine grain:
 * compresses and resizes like a photograph rather than like a flat test card.
 */
export async function photoLikeRaw(width: number, height: number, seed = 1): Promise<Buffer> {
  const cols = 12;
  const rows = Math.max(2, Math.round((cols * height) / width));
  const fields = await sharp(seededBytes(cols * rows * 3, seed), { raw: { width: cols, height: rows, channels: 3 } })
    .resize(width, height, { kernel: 'cubic' })
    .raw()
    .toBuffer();
  const grain = seededBytes(width * height, seed + 7);
  for (let i = 0, p = 0; i < fields.length; i += 3, p++) {
    const g = (grain[p]! % 24) - 12;
    fields[i] = Math.max(0, Math.min(255, fields[i]! + g));
    fields[i + 1] = Math.max(0, Math.min(255, fields[i + 1]! + g));
    fields[i + 2] = Math.max(0, Math.min(255, fields[i + 2]! + g));
  }
  return fields;
}

export async function photoLikeJpeg(
  width: number,
  height: number,
  options: { progressive?: boolean; quality?: number; orientation?: number; seed?: number } = {},
): Promise<Buffer> {
  let image = sharp(await photoLikeRaw(width, height, options.seed), { raw: { width, height, channels: 3 } });
  if (options.orientation) image = image.withMetadata({ orientation: options.orientation });
  return image.jpeg({ quality: options.quality ?? 88, progressive: options.progressive ?? false }).toBuffer();
}

/** A disc with soft edges on a transparent canvas. */
export async function alphaPng(width: number, height: number): Promise<Buffer> {
  const r = Math.min(width, height) / 2 - 4;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <defs><radialGradient id="g"><stop offset="0" stop-color="#2a9d8f"/><stop offset="1" stop-color="#e76f51" stop-opacity="0.6"/></radialGradient></defs>
    <circle cx="${width / 2}" cy="${height / 2}" r="${r}" fill="url(#g)"/></svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

export async function encodeAs(input: Buffer, format: 'jpeg' | 'png' | 'webp' | 'avif' | 'gif' | 'tiff'): Promise<Buffer> {
  return sharp(input).toFormat(format).toBuffer();
}

export async function animatedGif(width: number, height: number, frames: number): Promise<Buffer> {
  const frame = (i: number) =>
    sharp({ create: { width, height, channels: 4, background: { r: (i * 40) % 256, g: 120, b: 200, alpha: 1 } } })
      .png()
      .toBuffer();
  const pages = await Promise.all(Array.from({ length: frames }, (_, i) => frame(i)));
  return sharp(pages, { join: { animated: true } }).gif({ delay: 100 }).toBuffer();
}

/** What a test needs to know about an output, without comparing bytes (encoders change). */
export async function describeImage(bytes: Buffer) {
  const meta = await sharp(bytes, { animated: true }).metadata();
  return {
    format: meta.format,
    width: meta.width,
    height: meta.pageHeight ?? meta.height,
    pages: meta.pages ?? 1,
    hasAlpha: meta.hasAlpha,
    channels: meta.channels,
    space: meta.space,
    orientation: meta.orientation,
    hasExif: meta.exif !== undefined,
    hasIcc: meta.icc !== undefined,
    isProgressive: meta.isProgressive,
  };
}

/** Mean colour of an image region, for checking crops and backgrounds. */
export async function meanColour(bytes: Buffer, region?: { left: number; top: number; width: number; height: number }) {
  // stats() measures the input, not the pipeline: a region is cut into a new image first.
  const input = region ? await sharp(bytes).extract(region).png().toBuffer() : bytes;
  const stats = await sharp(input).stats();
  return stats.channels.slice(0, 3).map((c) => Math.round(c.mean));
}

/** The originals `npm start` seeds: a large photo, an EXIF-rotated photo, a PNG with alpha. */
export async function sampleOriginals(): Promise<SampleObject[]> {
  return [
    {
      key: 'photos/landscape.jpg',
      body: await photoLikeJpeg(4000, 3000, { progressive: true }),
      contentType: 'image/jpeg',
      description: '12 MP progressive photo-like JPEG (4000×3000)',
    },
    {
      key: 'photos/rotated-exif.jpg',
      body: await photoLikeJpeg(1200, 800, { orientation: 6, seed: 3 }),
      contentType: 'image/jpeg',
      description: 'JPEG stored 1200×800 with EXIF orientation 6 (shows as 800×1200)',
    },
    {
      key: 'graphics/logo alpha.png',
      body: await alphaPng(1024, 1024),
      contentType: 'image/png',
      description: 'PNG with alpha (1024×1024), key with a space',
    },
  ];
}
