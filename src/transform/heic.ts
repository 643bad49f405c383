import type createLibHeif from 'libheif-js/libheif-wasm/libheif-bundle.js';
import type { LibHeif } from 'libheif-js/libheif-wasm/libheif-bundle.js';
import { UndecodableImageError } from '../errors.js';

/**
 * HEIC originals (HEIF holding HEVC, what iPhones write): sharp's prebuilt libvips reads their
 * headers but has no HEVC decoder (patents), so the primary image is decoded here by libheif
 * compiled to WebAssembly (libheif-js), then handed back to sharp. The only importer of
 * libheif-js, loaded on the first HEIC an instance sees: the module is 1.4 MB of WebAssembly
 * (about 0.1 s to compile) that other requests never pay for.
 *
 * What libheif does and this module relies on:
 * - the primary image is decoded (bursts and Live Photo stills hold several; thumbnails, depth
 *   and gain maps are not top-level images), grid tiles assembled;
 * - `irot`, `imir` and `clap` are applied, so the pixels are upright. HEIF's transforms are what
 *   orient the image (iPhones also write EXIF Orientation, which must not be applied again);
 * - 10-bit images come out as 8 bits per sample.
 * The ICC profile is not libheif's business: the caller passes the one sharp read from the
 * header, and it travels with the pixels (see `uncompressedTiff`). An `nclx` colour description
 * without an ICC profile is read as sRGB.
 */

let instance: LibHeif | undefined;

async function libheif(): Promise<LibHeif> {
  if (!instance) {
    // The base64-inlined build: no .wasm file to find on disk, in the Lambda package or elsewhere.
    // require where there is one (the CommonJS bundles, tsx, which cannot resolve import() from
    // a transpiled module on Node 20), import() under Vitest's ES modules.
    const loaded: { default?: typeof createLibHeif } & typeof createLibHeif =
      typeof require === 'function' ? require('libheif-js/libheif-wasm/libheif-bundle.js') : await import('libheif-js/libheif-wasm/libheif-bundle.js');
    instance = (loaded.default ?? loaded)();
  }
  return instance;
}

const isHeifError = (value: unknown): value is { message: string } =>
  typeof value === 'object' && value !== null && 'code' in value && 'message' in value;

const undecodable = (detail: string, cause?: unknown) =>
  new UndecodableImageError('The original looks like HEIC but cannot be decoded.', new Error(detail, { cause }));

/**
 * The primary image of an HEIC, decoded upright, as an uncompressed TIFF (8 bits per sample, RGB,
 * or RGBA with unassociated alpha) carrying `icc`. The caller has checked the header's size against
 * its pixel limit: decoding allocates 3 or 4 bytes per pixel twice (libheif's image in the
 * module's memory, then the TIFF), besides libheif's own YCbCr planes.
 */
export async function decodeHeic(bytes: Uint8Array, icc: Uint8Array | undefined): Promise<Buffer> {
  const lib = await libheif();
  const context = lib.heif_context_alloc();
  try {
    const read = lib.heif_context_read_from_memory(context, bytes);
    if (read.code !== lib.heif_error_code.heif_error_Ok) throw undecodable(read.message);
    const handle = lib.heif_js_context_get_primary_image_handle(context);
    if (!handle || isHeifError(handle)) throw undecodable(handle?.message ?? 'no primary image');
    try {
      const alpha = lib.heif_image_handle_has_alpha_channel(handle) !== 0;
      const chroma = alpha ? lib.heif_chroma.heif_chroma_interleaved_RGBA : lib.heif_chroma.heif_chroma_interleaved_RGB;
      const image = await lib.heif_js_decode_image2(handle, lib.heif_colorspace.heif_colorspace_RGB, chroma);
      if (!image || isHeifError(image)) throw undecodable(image?.message ?? 'decoding failed');
      try {
        const [plane] = image.channels;
        if (!plane) throw undecodable('no interleaved plane');
        return uncompressedTiff(plane, alpha ? 4 : 3, icc);
      } finally {
        lib.heif_image_release(image.image);
      }
    } finally {
      lib.heif_image_handle_release(handle);
    }
  } catch (error) {
    if (error instanceof UndecodableImageError) throw error;
    // Anything else came from inside the module (an abort, memory exhausted): it may be left in
    // a broken state, so the next HEIC gets a fresh instance.
    instance = undefined;
    throw error;
  } finally {
    if (instance === lib) lib.heif_context_free(context);
  }
}

// TIFF 6.0 field types.
const SHORT = 3;
const LONG = 4;
const UNDEFINED = 7;
/** Strips of about 256 KB: libtiff reads one strip at a time. */
const STRIP_BYTES = 256 * 1024;

/**
 * sharp takes raw pixels but cannot attach an ICC profile to them, and an iPhone's Display P3
 * colours read as sRGB would come out dull: so the pixels go to sharp in the simplest container
 * that carries a profile, a baseline little-endian TIFF without compression. The rows are copied
 * once, out of the module's memory (where libheif pads them) into the TIFF.
 */
function uncompressedTiff(plane: { width: number; height: number; stride: number; data: Uint8Array }, channels: 3 | 4, icc: Uint8Array | undefined): Buffer {
  const { width, height, stride, data } = plane;
  const rowBytes = width * channels;
  const rowsPerStrip = Math.max(1, Math.min(height, Math.floor(STRIP_BYTES / rowBytes)));
  const strips = Math.ceil(height / rowsPerStrip);
  const profile = icc && icc.length > 0 ? icc : undefined;
  const tags = 10 + (channels === 4 ? 1 : 0) + (profile ? 1 : 0);
  // Header, the one IFD, the values too long for an entry (each at an even offset), the pixels.
  const even = (n: number) => n + (n % 2);
  const bitsAt = 8 + 2 + tags * 12 + 4;
  const offsetsAt = bitsAt + 2 * channels;
  const countsAt = offsetsAt + 4 * strips;
  const profileAt = countsAt + 4 * strips;
  const pixelsAt = even(profileAt + (profile?.length ?? 0));

  const out = Buffer.allocUnsafe(pixelsAt + rowBytes * height);
  out.fill(0, 0, pixelsAt);
  out.write('II', 0, 'latin1');
  out.writeUInt16LE(42, 2);
  out.writeUInt32LE(8, 4);
  out.writeUInt16LE(tags, 8);
  let entry = 10;
  // Entries in ascending tag order; a value of 4 bytes or less sits in the entry itself.
  const put = (tag: number, type: number, count: number, value: number) => {
    out.writeUInt16LE(tag, entry);
    out.writeUInt16LE(type, entry + 2);
    out.writeUInt32LE(count, entry + 4);
    if (type === SHORT && count === 1) out.writeUInt16LE(value, entry + 8);
    else out.writeUInt32LE(value, entry + 8);
    entry += 12;
  };
  put(256, LONG, 1, width);
  put(257, LONG, 1, height);
  put(258, SHORT, channels, bitsAt);
  put(259, SHORT, 1, 1); // no compression
  put(262, SHORT, 1, 2); // RGB
  put(273, LONG, strips, strips === 1 ? pixelsAt : offsetsAt);
  put(277, SHORT, 1, channels);
  put(278, LONG, 1, rowsPerStrip);
  put(279, LONG, strips, strips === 1 ? rowBytes * height : countsAt);
  put(284, SHORT, 1, 1); // interleaved
  if (channels === 4) put(338, SHORT, 1, 2); // unassociated alpha
  if (profile) put(34675, UNDEFINED, profile.length, profileAt);
  // The next IFD's offset (none) is already zero.
  for (let c = 0; c < channels; c++) out.writeUInt16LE(8, bitsAt + 2 * c);
  for (let s = 0; s < strips; s++) {
    out.writeUInt32LE(pixelsAt + s * rowsPerStrip * rowBytes, offsetsAt + 4 * s);
    out.writeUInt32LE(Math.min(rowsPerStrip, height - s * rowsPerStrip) * rowBytes, countsAt + 4 * s);
  }
  if (profile) out.set(profile, profileAt);
  for (let y = 0; y < height; y++) out.set(data.subarray(y * stride, y * stride + rowBytes), pixelsAt + y * rowBytes);
  return out;
}
