import sharp, { type Metadata, type Sharp } from 'sharp';
import { InvalidRequestError, TooLargeError, UndecodableImageError, UnsupportedImageError } from '../errors.js';
import { CONTENT_TYPES, resolveOutputFormat } from './format.js';
import { STRATEGIES, type ImageFormatRequest, type OutputFormat } from './operations.js';
import { decodeHeic } from './heic.js';
import { sniffFormat } from './sniff.js';
import { fitByteBudget, losslessOutcome, SEARCH_TIME_SHARE, type BudgetOutcome } from './byte-budget.js';
import { describe, JSON_CONTENT_TYPE, PREVIEW_SIDE } from './describe.js';
import { exifForOutput, readKeptExif, type KeptExif } from './exif-copyright.js';
import { outputBound, planGeometry, rectRegion, wholeImage, type Box } from './geometry.js';
import type { TransformSpec } from './spec.js';
import { placeWatermark, scaleAlpha, undecodableWatermark, watermarkTooLarge, type WatermarkImage } from './watermark.js';

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
  /** `json`: fm=json's description (src/transform/describe.ts), not an image. */
  readonly format: OutputFormat | 'json';
  readonly contentType: string;
  readonly width: number;
  readonly height: number;
  /** `maxbytes`: the quality found, the encodes it took, and whether the image fits. */
  readonly budget?: BudgetOutcome;
}

const WHITE = '#ffffff';
const TRANSPARENT = { r: 0, g: 0, b: 0, alpha: 0 };
const ANIMATED_OUTPUTS: ReadonlySet<OutputFormat> = new Set(['gif', 'webp']);
const ALPHA_OUTPUTS: ReadonlySet<OutputFormat> = new Set(['png', 'webp', 'avif', 'gif']);
/** What `maxbytes` can lower the quality of. */
const LOSSY_OUTPUTS: ReadonlySet<OutputFormat> = new Set(['jpeg', 'webp', 'avif']);
/** Outputs libvips writes EXIF into (PNG as an eXIf chunk); GIF has no place for it. */
const EXIF_OUTPUTS: ReadonlySet<OutputFormat> = new Set(['jpeg', 'png', 'webp', 'avif']);
/** Rec. 601 luma weights, as one row of a colour matrix. */
const LUMA: [number, number, number] = [0.299, 0.587, 0.114];

const isStrategy = (pos: string) => (STRATEGIES as readonly string[]).includes(pos);

/** The header of the original, and the bytes to render (an SVG only once sanitised, an HEIC decoded). */
async function readMetadata(original: Buffer, limits: RenderLimits): Promise<{ meta: Metadata; bytes: Buffer }> {
  const { allowSvg } = limits;
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
  let meta: Metadata;
  try {
    // Reads headers only: nothing is decoded yet, so a decompression bomb costs nothing here.
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (error) {
    throw new UndecodableImageError(`The original looks like ${sniffed.toUpperCase()} but cannot be decoded.`, error);
  }
  return meta.format === 'heif' && meta.compression === 'hevc' ? readHeic(original, meta, limits) : { meta, bytes };
}

/**
 * HEIC: libvips reads the header (the primary image's size with HEIF's rotation applied, its ICC
 * profile) but has no HEVC decoder; src/transform/heic.ts decodes it (its WebAssembly loaded by the
 * first HEIC). The pixel limit is checked from the header first, as for every format. The decoded
 * image, upright, then stands in for the original: one page (other images of a burst are not
 * rendered) and no EXIF orientation left to apply (iPhones write one that HEIF's own rotation
 * already applied).
 */
async function readHeic(original: Buffer, meta: Metadata, limits: RenderLimits): Promise<{ meta: Metadata; bytes: Buffer }> {
  const pixels = (meta.width ?? 0) * (meta.height ?? 0);
  if (pixels > limits.maxInputPixels) {
    throw new TooLargeError('input_too_large', `The original has ${pixels} pixels, over the limit of ${limits.maxInputPixels}.`);
  }
  const bytes = await decodeHeic(original, meta.icc);
  return { meta: { ...meta, pages: 1, pageHeight: undefined, orientation: undefined }, bytes };
}

function orientedSize(meta: Metadata, spec: TransformSpec): { width: number; height: number } {
  const width = meta.width ?? 0;
  const height = meta.pageHeight ?? meta.height ?? 0;
  // EXIF orientations 5–8 and quarter turns swap the sides.
  const exifSwaps = (meta.orientation ?? 1) >= 5;
  const rotSwaps = spec.rot === 90 || spec.rot === 270;
  return exifSwaps !== rotSwaps ? { width: height, height: width } : { width, height };
}

/** The largest output the spec can produce from a source of this size, padding included (sharp never exceeds it). */
function outputPixelBound(source: { width: number; height: number }, spec: TransformSpec): number {
  const { width, height } = outputBound(source, spec);
  return width * height;
}

/**
 * The part of `region` (of the upright original) that `trim` keeps. sharp trims before it cuts a
 * region out, and a focal-point crop needs the trimmed size before the render: so the region is
 * cut out and trimmed on its own here, and only the box is kept (the render cuts it out of the
 * original in one go). sharp leaves an entirely uniform region whole rather than trimming it to
 * nothing; one smaller than 3×3 (sharp's minimum) is left whole too.
 */
async function trimmedRegion(bytes: Buffer, region: Box, threshold: number, limits: RenderLimits, meta: Metadata): Promise<Box> {
  if (region.width < 3 && region.height < 3) return region;
  const cut = await decoding(
    meta,
    timed(sharp(bytes, { limitInputPixels: limits.maxInputPixels, failOn: 'truncated', autoOrient: true }), limits)
      .extract(region)
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true }),
  );
  const raw = { width: cut.info.width, height: cut.info.height, channels: cut.info.channels as 1 | 2 | 3 | 4 };
  const { info } = await timed(sharp(cut.data, { raw, limitInputPixels: false }), limits)
    .trim({ threshold })
    .raw()
    .toBuffer({ resolveWithObject: true });
  // trimOffsetLeft/Top: where the kept part starts, as negative offsets.
  return {
    left: region.left - (info.trimOffsetLeft ?? 0),
    top: region.top - (info.trimOffsetTop ?? 0),
    width: info.width,
    height: info.height,
  };
}

interface EncodeOptions {
  /** meta=copyright: the only EXIF written. */
  readonly exif?: KeptExif;
  /** Frame timing of an animation encoded from raw pixels (a decoded original brings its own). */
  readonly delay?: number[];
  readonly loop?: number;
}

function encode(image: Sharp, format: OutputFormat, quality: number, options: EncodeOptions = {}): Sharp {
  // withExif writes these fields and nothing of the original's EXIF (GPS, camera, dates).
  const tagged = options.exif ? image.withExif({ IFD0: exifForOutput(options.exif) }) : image;
  const frames = { ...(options.delay && { delay: options.delay }), ...(options.loop !== undefined && { loop: options.loop }) };
  switch (format) {
    case 'jpeg':
      return tagged.jpeg({ quality, progressive: true });
    case 'png':
      return tagged.png({ progressive: true });
    case 'webp':
      return tagged.webp({ quality, ...frames });
    case 'avif':
      return tagged.avif({ quality });
    case 'gif':
      return tagged.gif({ progressive: true, ...frames });
  }
}

/** sharp's work on the original: a failure there is the original's (its header read fine). */
async function decoding<T>(meta: Metadata, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    throw new UndecodableImageError('The original image is damaged or truncated and cannot be decoded.', error);
  }
}

/** The render up to its encoder: a lazy sharp pipeline (nothing decoded yet) and what finishing it needs. */
interface Prepared {
  readonly image: Sharp;
  readonly format: OutputFormat;
  readonly animated: boolean;
  readonly meta: Metadata;
  /** Converted to sRGB and tagged so: an encode of its pixels must tag them again. */
  readonly srgb: boolean;
}

/** `watermark`: the object `spec.mark` names (required with it), read by the caller (src/watermarks.ts). */
export async function renderVariant(original: Buffer, spec: TransformSpec, limits: RenderLimits, watermark?: WatermarkImage): Promise<RenderedVariant> {
  if (spec.fm === 'json') return describeVariant(original, spec, limits, watermark);
  return encodeVariant(await preparePipeline(original, spec, limits, watermark), spec, limits);
}

/** The checks that need only the headers, then the pipeline of the spec's operations. */
async function preparePipeline(original: Buffer, spec: TransformSpec, limits: RenderLimits, watermark?: WatermarkImage): Promise<Prepared> {
  const { meta, bytes } = await readMetadata(original, limits);
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
  // rect is in the original as a viewer sees it (EXIF applied, no rot): checked from the header alone.
  const upright = orientedSize(meta, {});
  const rect = spec.rect ? rectRegion(spec.rect, upright) : undefined;
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
  // sharp trims single images only: each frame would need its own border, and the frames one size.
  if (animated && spec.trim) {
    throw new InvalidRequestError('invalid_param', '"trim" is not supported for animated images; add fm=jpeg or fm=png to trim the first frame.');
  }

  // The watermark's header is checked before a pixel of either image is decoded.
  const mark = spec.mark === undefined ? undefined : await readWatermark(watermark, limits);

  let image = sharp(bytes, {
    limitInputPixels: limits.maxInputPixels,
    failOn: 'truncated',
    animated,
    autoOrient: true,
  });
  if (limits.timeoutSeconds !== undefined) image = image.timeout({ seconds: Math.max(1, Math.ceil(limits.timeoutSeconds)) });
  if (spec.rot) image = image.rotate(spec.rot);
  // Geometry (src/transform/geometry.ts): rect and trim make one region, cut out before the resize;
  // the resize, or ar's crop or padding; a focal point's window; pad, last (below).
  const whole = rect ?? wholeImage(upright);
  const region = spec.trim ? await trimmedRegion(bytes, whole, spec.trim, limits, meta) : whole;
  const geometry = planGeometry(upright, region, spec);
  // Fill for contain and pad: bg, else transparent where the output format has alpha, else white.
  const background = spec.bg ? `#${spec.bg}` : ALPHA_OUTPUTS.has(format) ? TRANSPARENT : WHITE;
  if (geometry.extract) image = image.extract(geometry.extract);
  if (geometry.resize) {
    image = image.resize({
      ...geometry.resize,
      // Smart crops (attention, entropy) look at one frame only: sharp refuses them for animations.
      position: spec.pos === undefined || (animated && isStrategy(spec.pos)) ? 'center' : spec.pos,
      withoutEnlargement: !spec.enlarge,
      background,
    });
  }
  if (geometry.window) image = image.extract(geometry.window);
  if (spec.flip) image = image.flip();
  if (spec.flop) image = image.flop();
  if (spec.blur) image = image.blur(spec.blur);
  if (spec.sharpen) image = image.sharpen({ sigma: spec.sharpen });
  // grayscale() alone still writes three identical sRGB channels; b-w keeps one (and smaller
  // files). Both drop every frame but the first of an animation, where a luma matrix does not.
  // With a watermark too, it must stay in colour: three channels, as for animations.
  if (spec.gray) image = animated || mark ? image.recomb([LUMA, LUMA, LUMA]) : image.grayscale().toColourspace('b-w');
  // pad: the end of the geometry, around the result, in the fill of contain. sharp extends before
  // it blurs, sharpens and recolours (gray), whatever the call order: a blur reaches a few pixels
  // into the padding, and gray greys it.
  if (spec.pad) {
    const [top, right, bottom, left] = spec.pad;
    image = image.extend({ top, right, bottom, left, background });
  }
  // The watermark: on the finished picture (crops, effects and pad rendered first, so it stays
  // crisp and in colour, inside the padding); flatten, profile and encoding apply to what follows.
  if (mark) image = await compositeWatermark(image, mark, spec, { animated, format, meta, limits });
  if (spec.bg || (meta.hasAlpha && !ALPHA_OUTPUTS.has(format))) {
    image = image.flatten({ background: spec.bg ? `#${spec.bg}` : WHITE });
  }
  // Metadata is stripped by default; a source profile is honoured by converting to sRGB and
  // tagging the result, so wide-gamut photos keep their colours in every browser.
  const srgb = meta.icc !== undefined && !spec.gray;
  if (srgb) image = image.withIccProfile('srgb');
  return { image, format, animated, meta, srgb };
}

/** Encodes the prepared render: once, or (maxbytes) as often as the byte budget's search needs. */
async function encodeVariant(prepared: Prepared, spec: TransformSpec, limits: RenderLimits): Promise<RenderedVariant> {
  const { image, format, animated, meta } = prepared;
  const quality = spec.q ?? limits.defaultQuality;
  const options: EncodeOptions = { exif: spec.meta === 'copyright' && EXIF_OUTPUTS.has(format) ? readKeptExif(meta.exif) : undefined };
  const variant = (data: Buffer, info: { width: number; height: number; pageHeight?: number }) => ({
    data,
    format,
    contentType: CONTENT_TYPES[format],
    width: info.width,
    height: animated ? (info.pageHeight ?? info.height) : info.height,
  });
  if (spec.maxbytes !== undefined && LOSSY_OUTPUTS.has(format)) {
    const { data, info, budget } = await withinBudget(prepared, spec.maxbytes, quality, options, limits);
    return { ...variant(data, info), budget };
  }
  if (spec.maxbytes !== undefined && spec.fm === undefined) {
    throw new InvalidRequestError(
      'invalid_param',
      `"maxbytes" lowers the quality of lossy outputs, and without fm this original stays ${format.toUpperCase()}, which has none: add fm=jpeg, fm=webp or fm=avif.`,
    );
  }
  const { data, info } = await decoding(meta, encode(image, format, quality, options).toBuffer({ resolveWithObject: true }));
  // maxbytes with fm=auto answered as PNG (alpha, for a client without AVIF/WebP): nothing to
  // lower, so the budget is only reported.
  return { ...variant(data, info), ...(spec.maxbytes !== undefined && { budget: losslessOutcome(data.length, spec.maxbytes) }) };
}

/**
 * maxbytes: the pixels are rendered once (decode, resize, filters: the expensive part), then
 * encoded at each quality the byte budget's search asks for (src/transform/byte-budget.ts).
 */
async function withinBudget(prepared: Prepared, maxBytes: number, ceiling: number, options: EncodeOptions, limits: RenderLimits) {
  const { image, format, animated, meta, srgb } = prepared;
  const { data: pixels, info } = await decoding(meta, image.raw().toBuffer({ resolveWithObject: true }));
  const raw = {
    width: info.width,
    height: info.height,
    channels: info.channels as 1 | 2 | 3 | 4,
    ...(animated && info.pageHeight !== undefined && { pageHeight: info.pageHeight }),
  };
  const frames: EncodeOptions = animated ? { ...options, delay: meta.delay, loop: meta.loop } : options;
  const deadline = limits.timeoutSeconds === undefined ? undefined : performance.now() + limits.timeoutSeconds * 1000 * SEARCH_TIME_SHARE;
  const found = await fitByteBudget(maxBytes, ceiling, (quality) => {
    let again = timed(sharp(pixels, { raw, limitInputPixels: false }), limits);
    // One or two channels are gray's b-w: kept as one channel, as the direct encode keeps them.
    if (raw.channels <= 2) again = again.toColourspace('b-w');
    if (srgb) again = again.withIccProfile('srgb');
    return encode(again, format, quality, frames).toBuffer();
  }, { deadline });
  const budget: BudgetOutcome = { fits: found.fits, quality: found.quality, encodes: found.encodes };
  return { data: found.data, info, budget };
}

/** fm=json: the same render as without it, to pixels instead of an encoder, described by src/transform/describe.ts. */
async function describeVariant(original: Buffer, spec: TransformSpec, limits: RenderLimits, watermark?: WatermarkImage): Promise<RenderedVariant> {
  const { fm: _json, ...imageSpec } = spec;
  const { image, format, animated, meta } = await preparePipeline(original, imageSpec, limits, watermark);
  const { data, info } = await decoding(meta, image.raw().toBuffer({ resolveWithObject: true }));
  // An animation is one tall strip of frames: the first one stands for it.
  const height = animated ? (info.pageHeight ?? info.height) : info.height;
  const channels = info.channels as 1 | 2 | 3 | 4;
  const frame = data.subarray(0, info.width * height * channels);
  const preview = await timed(sharp(frame, { raw: { width: info.width, height, channels }, limitInputPixels: false }), limits)
    .resize(PREVIEW_SIDE, PREVIEW_SIDE, { fit: 'inside', withoutEnlargement: true })
    .toColourspace('srgb')
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const upright = orientedSize(meta, {});
  const { body } = await describe(
    {
      original: {
        width: upright.width,
        height: upright.height,
        format: meta.format === 'heif' ? (meta.compression === 'av1' ? 'avif' : 'heic') : (meta.format ?? 'unknown'),
        bytes: original.length,
        hasAlpha: meta.hasAlpha ?? false,
        pages: meta.pages ?? 1,
        space: meta.space,
        orientation: meta.orientation ?? 1,
        ...(meta.density !== undefined && { density: meta.density }),
      },
      output: { width: info.width, height, format },
      preview: { width: preview.info.width, height: preview.info.height, rgba: preview.data },
    },
    (placeholder) =>
      sharp(placeholder.rgba, { raw: { width: placeholder.width, height: placeholder.height, channels: 4 } }).webp({ quality: 70 }).toBuffer(),
  );
  return { data: body, format: 'json', contentType: JSON_CONTENT_TYPE, width: info.width, height };
}

/** The watermark's bytes (an SVG sanitised) and its upright size, from its header alone. */
interface PreparedWatermark {
  readonly source: WatermarkImage;
  readonly bytes: Buffer;
  readonly width: number;
  readonly height: number;
}

async function readWatermark(mark: WatermarkImage | undefined, limits: RenderLimits): Promise<PreparedWatermark> {
  if (!mark) throw new Error('renderVariant: a spec with "mark" needs the watermark image');
  const sniffed = sniffFormat(mark.bytes);
  if (sniffed === undefined || (sniffed === 'svg' && !limits.allowSvg)) {
    throw undecodableWatermark(mark, 'is not an image in a supported format');
  }
  let bytes = mark.bytes;
  let meta: Metadata;
  try {
    if (sniffed === 'svg') bytes = (await import('./svg-sanitize.js')).sanitizeSvg(bytes);
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (error) {
    throw undecodableWatermark(mark, 'cannot be decoded', error);
  }
  const width = meta.width ?? 0;
  const height = meta.pageHeight ?? meta.height ?? 0;
  if (width * height > limits.maxInputPixels) {
    throw watermarkTooLarge(mark, `has ${width * height} pixels, over the limit of ${limits.maxInputPixels}`);
  }
  if (width < 1 || height < 1) throw undecodableWatermark(mark, 'has no pixels');
  const swaps = (meta.orientation ?? 1) >= 5;
  return { source: mark, bytes, width: swaps ? height : width, height: swaps ? width : height };
}

const timed = (image: Sharp, limits: RenderLimits) =>
  limits.timeoutSeconds === undefined ? image : image.timeout({ seconds: Math.max(1, Math.ceil(limits.timeoutSeconds)) });

/**
 * Renders the image so far into raw pixels, then lays the watermark on every frame: its size and
 * place depend on the output's size, known only now (trim, rect, fit), and sharp would composite
 * once onto an animation's whole strip of frames. The padding is in those pixels already: the
 * watermark goes inside it. What is called on the returned pipeline (flatten, profile, encoding)
 * applies to the watermarked image.
 */
async function compositeWatermark(
  image: Sharp,
  mark: PreparedWatermark,
  spec: TransformSpec,
  context: { animated: boolean; format: OutputFormat; meta: Metadata; limits: RenderLimits },
): Promise<Sharp> {
  const { animated, format, meta, limits } = context;
  const { data, info } = await image
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true })
    .catch((error: unknown) => {
      throw new UndecodableImageError('The original image is damaged or truncated and cannot be decoded.', error);
    });
  const pageHeight = animated ? (info.pageHeight ?? info.height) : info.height;
  const [padTop, padRight, padBottom, padLeft] = spec.pad ?? [0, 0, 0, 0];
  const place = placeWatermark({ width: info.width - padLeft - padRight, height: pageHeight - padTop - padBottom }, mark, spec);
  let overlay: Buffer;
  try {
    overlay = await timed(sharp(mark.bytes, { limitInputPixels: limits.maxInputPixels, failOn: 'truncated', autoOrient: true }), limits)
      .resize(place.width, place.height, { fit: 'fill' })
      .ensureAlpha()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer();
  } catch (error) {
    throw undecodableWatermark(mark.source, 'cannot be decoded', error);
  }
  const raw = { width: place.width, height: place.height, channels: 4 as const };
  scaleAlpha(overlay, spec.markalpha ?? 100);
  const frames = Math.max(1, Math.round(info.height / pageHeight));
  let next = timed(
    sharp(data, {
      raw: { width: info.width, height: info.height, channels: info.channels, ...(animated ? { pageHeight } : {}) },
      limitInputPixels: false,
    }),
    limits,
  ).composite(
    Array.from({ length: frames }, (_, frame) => ({ input: overlay, raw, left: padLeft + place.left, top: frame * pageHeight + padTop + place.top })),
  );
  // Compositing adds an alpha channel: an opaque image stays without one.
  if (info.channels === 1 || info.channels === 3) next = next.removeAlpha();
  // Raw pixels carry no frame timing: the original's goes to the encoder (which keeps it).
  if (animated && (meta.delay !== undefined || meta.loop !== undefined)) {
    next = next.toFormat(format, { ...(meta.delay ? { delay: meta.delay } : {}), ...(meta.loop !== undefined ? { loop: meta.loop } : {}) });
  }
  return next;
}
