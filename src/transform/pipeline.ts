import sharp, { type Metadata, type Sharp } from 'sharp';
import { InvalidRequestError, TooLargeError, UndecodableImageError, UnsupportedImageError } from '../errors.js';
import { CONTENT_TYPES, resolveOutputFormat } from './format.js';
import { STRATEGIES, type ImageFormatRequest, type OutputFormat } from './operations.js';
import { sniffFormat } from './sniff.js';
import { defaultFit, type TransformSpec } from './spec.js';

/** The only module that imports sharp. */

// Lambda runs one request at a time per instance: libvips' operation cache only costs memory there.
sharp.cache(false);

export interface RenderLimits {
  readonly defaultQuality: number;
  readonly maxInputPixels: number;
  readonly maxOutputPixels: number;
  readonly maxFrames: number;
  readonly allowSvg: boolean;
  /** libvips aborts the render after this many seconds (whole seconds, at least 1). */
  readonly timeoutSeconds?: number;
}

export interface RenderedVariant {
  readonly data: Buffer;
  readonly format: OutputFormat;
  readonly contentType: string;
  readonly width: number;
  readonly height: number;
}

const WHITE = '#ffffff';
const TRANSPARENT = { r: 0, g: 0, b: 0, alpha: 0 };
const ANIMATED_OUTPUTS: ReadonlySet<OutputFormat> = new Set(['gif', 'webp']);
const ALPHA_OUTPUTS: ReadonlySet<OutputFormat> = new Set(['png', 'webp', 'avif', 'gif']);
/** Rec. 601 luma weights, as one row of a colour matrix. */
const LUMA: [number, number, number] = [0.299, 0.587, 0.114];

const isStrategy = (pos: string) => (STRATEGIES as readonly string[]).includes(pos);

const unsupportedHeic = () => new UnsupportedImageError('HEIC images compressed with HEVC are not supported; AVIF is.');

/** The header of the original, and the bytes to render (an SVG only once sanitised). */
async function readMetadata(original: Buffer, allowSvg: boolean): Promise<{ meta: Metadata; bytes: Buffer }> {
  let bytes = original;
  const sniffed = sniffFormat(bytes);
  if (sniffed === undefined) {
    throw new UnsupportedImageError(
      'The original is not an image in a supported format (JPEG, PNG, WebP, AVIF, GIF, TIFF).',
    );
  }
  if (sniffed === 'svg' && !allowSvg) {
    throw new UnsupportedImageError('SVG originals are not enabled on this service.');
  }
  if (sniffed === 'svg') {
    // Loaded on first use: most deployments never enable SVG, and cold starts pay for every import.
    const { sanitizeSvg } = await import('./svg-sanitize.js');
    bytes = sanitizeSvg(original);
  }
  try {
    // Reads headers only: nothing is decoded yet, so a decompression bomb costs nothing here.
    return { meta: await sharp(bytes, { limitInputPixels: false }).metadata(), bytes };
  } catch (error) {
    if (sniffed === 'heic') throw unsupportedHeic();
    throw new UndecodableImageError(`The original looks like ${sniffed.toUpperCase()} but cannot be decoded.`, error);
  }
}

function orientedSize(meta: Metadata, spec: TransformSpec): { width: number; height: number } {
  const width = meta.width ?? 0;
  const height = meta.pageHeight ?? meta.height ?? 0;
  // EXIF orientations 5–8 and quarter turns swap the sides.
  const exifSwaps = (meta.orientation ?? 1) >= 5;
  const rotSwaps = spec.rot === 90 || spec.rot === 270;
  return exifSwaps !== rotSwaps ? { width: height, height: width } : { width, height };
}

/** The largest output the spec can produce from a source of this size (sharp never exceeds it). */
function outputPixelBound(source: { width: number; height: number }, spec: TransformSpec): number {
  const { w, h } = spec;
  if (w === undefined && h === undefined) return source.width * source.height;
  const fit = spec.fit ?? defaultFit(w, h);
  if (w !== undefined && h !== undefined && fit !== 'inside' && fit !== 'outside') return w * h;
  // One side given: fill stretches that side alone, and contain pads it to the full size even
  // when it may not enlarge; the other side scales with the image.
  if (fit === 'fill') {
    const side = (asked: number | undefined, own: number) => (asked === undefined ? own : spec.enlarge ? asked : Math.min(asked, own));
    return side(w, source.width) * side(h, source.height);
  }
  const scales = [w !== undefined ? w / source.width : undefined, h !== undefined ? h / source.height : undefined]
    .filter((s): s is number => s !== undefined);
  let scale = fit === 'outside' ? Math.max(...scales) : Math.min(...scales);
  if (!spec.enlarge) scale = Math.min(scale, 1);
  const padded = fit === 'contain';
  const width = padded && w !== undefined ? w : Math.round(source.width * scale);
  const height = padded && h !== undefined ? h : Math.round(source.height * scale);
  return width * height;
}

function encode(image: Sharp, format: OutputFormat, quality: number): Sharp {
  switch (format) {
    case 'jpeg':
      return image.jpeg({ quality, progressive: true });
    case 'png':
      return image.png({ progressive: true });
    case 'webp':
      return image.webp({ quality });
    case 'avif':
      return image.avif({ quality });
    case 'gif':
      return image.gif({ progressive: true });
  }
}

export async function renderVariant(original: Buffer, spec: TransformSpec, limits: RenderLimits): Promise<RenderedVariant> {
  if (spec.fm === 'json') throw new InvalidRequestError('invalid_param', '"fm=json" is not available on this service yet.');
  const { meta, bytes } = await readMetadata(original, limits.allowSvg);
  const pages = meta.pages ?? 1;
  const resolved = resolveOutputFormat(spec.fm as ImageFormatRequest | undefined, {
    format: meta.format ?? '',
    isAvif: meta.compression === 'av1',
    hasAlpha: meta.hasAlpha ?? false,
  });
  // libvips writes AVIF as a still image only: an animation asked for as AVIF (fm=auto in every
  // AVIF-capable browser) comes back as animated WebP, which all of them read, not as one frame.
  const format = resolved === 'avif' && pages > 1 ? 'webp' : resolved;
  const animated = pages > 1 && ANIMATED_OUTPUTS.has(format);
  const source = orientedSize(meta, spec);
  const inputPixels = source.width * source.height * (animated ? pages : 1);
  if (inputPixels > limits.maxInputPixels) {
    throw new TooLargeError(
      'input_too_large',
      `The original has ${inputPixels} pixels${animated ? ` over ${pages} frames` : ''}, over the limit of ${limits.maxInputPixels}.`,
    );
  }
  if (animated && pages > limits.maxFrames) {
    throw new TooLargeError('too_many_frames', `The original has ${pages} frames, over the limit of ${limits.maxFrames}.`);
  }
  const outputPixels = outputPixelBound(source, spec);
  if (outputPixels > limits.maxOutputPixels) {
    throw new TooLargeError(
      'output_too_large',
      `The requested output would have ${outputPixels} pixels, over the limit of ${limits.maxOutputPixels}.`,
    );
  }

  // sharp refuses quarter turns of multi-page images (the frames are one tall strip to libvips).
  if (animated && (spec.rot === 90 || spec.rot === 270)) {
    throw new InvalidRequestError(
      'invalid_param',
      `"rot=${spec.rot}" is not supported for animated images; add fm=jpeg or fm=png to turn the first frame.`,
    );
  }

  let image = sharp(bytes, {
    limitInputPixels: limits.maxInputPixels,
    failOn: 'truncated',
    animated,
    autoOrient: true,
  });
  if (limits.timeoutSeconds !== undefined) image = image.timeout({ seconds: Math.max(1, Math.ceil(limits.timeoutSeconds)) });
  if (spec.rot) image = image.rotate(spec.rot);
  if (spec.w !== undefined || spec.h !== undefined) {
    const fit = spec.fit ?? defaultFit(spec.w, spec.h);
    image = image.resize({
      width: spec.w,
      height: spec.h,
      fit,
      // Smart crops (attention, entropy) look at one frame only: sharp refuses them for animations.
      position: spec.pos === undefined || (animated && isStrategy(spec.pos)) ? 'center' : spec.pos,
      withoutEnlargement: !spec.enlarge,
      background: spec.bg ? `#${spec.bg}` : ALPHA_OUTPUTS.has(format) ? TRANSPARENT : WHITE,
    });
  }
  if (spec.flip) image = image.flip();
  if (spec.flop) image = image.flop();
  if (spec.blur) image = image.blur(spec.blur);
  if (spec.sharpen) image = image.sharpen({ sigma: spec.sharpen });
  // grayscale() alone still writes three identical sRGB channels; b-w keeps one (and smaller
  // files). Both drop every frame but the first of an animation, where a luma matrix does not.
  if (spec.gray) image = animated ? image.recomb([LUMA, LUMA, LUMA]) : image.grayscale().toColourspace('b-w');
  if (spec.bg || (meta.hasAlpha && !ALPHA_OUTPUTS.has(format))) {
    image = image.flatten({ background: spec.bg ? `#${spec.bg}` : WHITE });
  }
  // Metadata is stripped by default; a source profile is honoured by converting to sRGB and
  // tagging the result, so wide-gamut photos keep their colours in every browser.
  if (meta.icc && !spec.gray) image = image.withIccProfile('srgb');
  image = encode(image, format, spec.q ?? limits.defaultQuality);

  try {
    const { data, info } = await image.toBuffer({ resolveWithObject: true });
    return {
      data,
      format,
      contentType: CONTENT_TYPES[format],
      width: info.width,
      height: animated ? (info.pageHeight ?? info.height) : info.height,
    };
  } catch (error) {
    // libvips reads an HEIC header without an HEVC decoder (sharp's prebuilt binaries have none)
    // and only fails here: that is a format we do not read, not a damaged file.
    if (meta.format === 'heif' && meta.compression === 'hevc') throw unsupportedHeic();
    throw new UndecodableImageError('The original image is damaged or truncated and cannot be decoded.', error);
  }
}
