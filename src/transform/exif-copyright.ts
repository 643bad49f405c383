/**
 * `meta=copyright`: the two EXIF fields of the original that are kept (IFD0's Copyright and
 * Artist), read straight from the EXIF block sharp's metadata() hands over. Two ASCII tags of the
 * first IFD need a few dozen lines, not an EXIF library; anything malformed reads as absent, so a
 * hostile EXIF block can only ever mean "nothing kept".
 */

/** What `withExif({ IFD0: … })` writes: only these, so GPS, camera, dates and XMP stay stripped. */
export interface KeptExif {
  readonly Copyright?: string;
  readonly Artist?: string;
}

const TAGS = { Copyright: 0x8298, Artist: 0x013b } as const;
/** EXIF field types whose value is a byte string: BYTE, ASCII, UNDEFINED, UTF-8 (EXIF 3.0). */
const BYTE_TYPES: ReadonlySet<number> = new Set([1, 2, 7, 129]);
/** Longer values are cut: a credit line, not a payload to carry into every variant. */
const MAX_LENGTH = 512;
const EXIF_PREFIX = Buffer.from('Exif\0\0', 'latin1');

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * EXIF ASCII is often UTF-8 in practice; anything else is read as Latin-1. Copyright may hold two
 * NUL-separated notices (photographer, editor): they are joined, as one line.
 */
function text(bytes: Buffer): string | undefined {
  const parts = bytes
    .toString('latin1')
    .split('\0')
    .map((part) => {
      const raw = Buffer.from(part, 'latin1');
      try {
        return utf8.decode(raw);
      } catch {
        return part;
      }
    })
    // Control characters would end up in a header-like field of every output: dropped.
    // eslint-disable-next-line no-control-regex
    .map((part) => part.replace(/[\u0000-\u001f\u007f]/g, ' ').trim())
    .filter(Boolean);
  const joined = parts.join('; ').slice(0, MAX_LENGTH);
  return joined || undefined;
}

/** The byte-string values of the given IFD0 tags, or an empty map when the block is not EXIF. */
export function ifd0Values(exif: Buffer | undefined): Map<number, Buffer> {
  const values = new Map<number, Buffer>();
  if (!exif) return values;
  // JPEG/WebP/AVIF blocks start with "Exif\0\0"; PNG's eXIf chunk is the bare TIFF structure.
  const tiff = exif.subarray(0, 6).equals(EXIF_PREFIX) ? exif.subarray(6) : exif;
  if (tiff.length < 8) return values;
  const order = tiff.toString('latin1', 0, 2);
  if (order !== 'II' && order !== 'MM') return values;
  const le = order === 'II';
  const u16 = (at: number) => (le ? tiff.readUInt16LE(at) : tiff.readUInt16BE(at));
  const u32 = (at: number) => (le ? tiff.readUInt32LE(at) : tiff.readUInt32BE(at));
  if (u16(2) !== 42) return values;
  const ifd = u32(4);
  if (ifd < 8 || ifd + 2 > tiff.length) return values;
  const count = u16(ifd);
  for (let i = 0; i < count; i++) {
    const entry = ifd + 2 + i * 12;
    if (entry + 12 > tiff.length) break;
    const tag = u16(entry);
    const type = u16(entry + 2);
    const length = u32(entry + 4);
    if (!BYTE_TYPES.has(type)) {
      values.set(tag, Buffer.alloc(0));
      continue;
    }
    // Up to 4 bytes sit in the entry itself; longer values at an offset from the TIFF header.
    const start = length <= 4 ? entry + 8 : u32(entry + 8);
    if (start + length > tiff.length) continue;
    values.set(tag, tiff.subarray(start, start + length));
  }
  return values;
}

/** Copyright and Artist of an EXIF block; `undefined` when it has neither. */
export function readKeptExif(exif: Buffer | undefined): KeptExif | undefined {
  const values = ifd0Values(exif);
  const copyright = values.has(TAGS.Copyright) ? text(values.get(TAGS.Copyright)!) : undefined;
  const artist = values.has(TAGS.Artist) ? text(values.get(TAGS.Artist)!) : undefined;
  if (copyright === undefined && artist === undefined) return undefined;
  return { ...(copyright !== undefined && { Copyright: copyright }), ...(artist !== undefined && { Artist: artist }) };
}

/**
 * The IFD0 entries to hand sharp's withExif. libvips reads a value ending in " (…)" as the value
 * followed by its own description and drops that part ("Jane Doe (Studio)" would lose
 * "(Studio)"): an empty " ()" at the end is the part it drops. libvips writes ASCII only, so
 * accented letters lose their accents (é → e) and other scripts become "?".
 */
export function exifForOutput(kept: KeptExif): Record<string, string> {
  const entries: Record<string, string> = {};
  if (kept.Copyright !== undefined) entries.Copyright = `${kept.Copyright} ()`;
  if (kept.Artist !== undefined) entries.Artist = `${kept.Artist} ()`;
  return entries;
}
