import { crc32, deflateSync } from 'node:zlib';
import { alphaPng, encodeAs, photoLikeJpeg, seededBytes } from '../../scripts/samples.js';

/**
 * Hostile originals, made by the tests themselves: broken, lying, oversized and malicious files
 * of the kinds a public upload bucket ends up holding. Each entry says what the service must
 * answer for it, so the expectations sit next to the bytes that justify them.
 */
export interface HostileOriginal {
  readonly name: string;
  /** The key's last segment: the extension is part of the lie for some entries. */
  readonly file: string;
  readonly body: Buffer;
  /** The Content-Type stored with the object (the service must not trust it). */
  readonly contentType: string;
  /** The query to request it with. */
  readonly query: string;
  /** Needs ALLOW_SVG=true. */
  readonly svg?: boolean;
  readonly expect:
    | { readonly status: number; readonly code: string }
    | { readonly status: 200; readonly contentType: string };
  readonly why: string;
}


const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};
const u16le = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
};

function pngChunk(type: string, data: Buffer): Buffer {
  const typeAndData = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  return Buffer.concat([u32(data.length), typeAndData, u32(crc32(typeAndData))]);
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * A decompression bomb: the header promises width × height RGB pixels, the IDAT is a small zlib
 * stream of zeros (1 MiB inflated, about 1 KiB stored). A decoder that believed the header and
 * allocated first would ask for width × height × 3 bytes.
 */
export function pngBomb(width: number, height: number): Buffer {
  const ihdr = Buffer.concat([u32(width), u32(height), Buffer.from([8, 2, 0, 0, 0])]);
  const idat = deflateSync(Buffer.alloc(1024 * 1024), { level: 9 });
  return Buffer.concat([PNG_SIGNATURE, pngChunk('IHDR', ihdr), pngChunk('IDAT', idat), pngChunk('IEND', Buffer.alloc(0))]);
}

/**
 * A GIF with `frames` frames (about 23 bytes each), looping forever. Each frame's descriptor
 * declares `frame` pixels but carries the LZW data of one pixel.
 */
export function manyFrameGif(frames: number, screen = { width: 1, height: 1 }, frame = { width: 1, height: 1 }): Buffer {
  const parts: Buffer[] = [
    Buffer.from('GIF89a', 'latin1'),
    u16le(screen.width),
    u16le(screen.height),
    // Global colour table of 2 entries, background 0, no aspect ratio; black and white.
    Buffer.from([0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff]),
    // NETSCAPE2.0 application extension: loop forever.
    Buffer.from([0x21, 0xff, 0x0b]),
    Buffer.from('NETSCAPE2.0', 'latin1'),
    Buffer.from([0x03, 0x01, 0x00, 0x00, 0x00]),
  ];
  const block = Buffer.concat([
    // Graphic control extension: 0.1 s delay.
    Buffer.from([0x21, 0xf9, 0x04, 0x00, 0x0a, 0x00, 0x00, 0x00]),
    // Image descriptor at 0,0, no local table.
    Buffer.from([0x2c, 0x00, 0x00, 0x00, 0x00]),
    u16le(frame.width),
    u16le(frame.height),
    Buffer.from([0x00]),
    // LZW minimum code size 2, one 2-byte sub-block (clear, index 0, end), block terminator.
    Buffer.from([0x02, 0x02, 0x44, 0x01, 0x00]),
  ]);
  for (let i = 0; i < frames; i++) parts.push(block);
  parts.push(Buffer.from([0x3b]));
  return Buffer.concat(parts);
}

/** A JPEG with an APP1 "Exif" segment holding `tiff` (a broken TIFF structure) right after SOI. */
export function withExifSegment(jpeg: Buffer, tiff: Buffer): Buffer {
  const payload = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
  const length = Buffer.alloc(2);
  length.writeUInt16BE(payload.length + 2);
  return Buffer.concat([jpeg.subarray(0, 2), Buffer.from([0xff, 0xe1]), length, payload, jpeg.subarray(2)]);
}

/** Rewrites the frame size in a baseline or progressive JPEG's SOF marker, keeping the tiny body. */
export function withDeclaredJpegSize(jpeg: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(jpeg);
  for (let i = 2; i + 9 < out.length; ) {
    if (out[i] !== 0xff) throw new Error('not a JPEG marker');
    const marker = out[i + 1]!;
    const length = out.readUInt16BE(i + 2);
    if (marker === 0xc0 || marker === 0xc1 || marker === 0xc2) {
      out.writeUInt16BE(height, i + 5);
      out.writeUInt16BE(width, i + 7);
      return out;
    }
    i += 2 + length;
  }
  throw new Error('no SOF marker found');
}

/** A BMP file header and BITMAPINFOHEADER for a 2×2 24-bit image, with its pixel rows. */
function bmp(): Buffer {
  const header = Buffer.alloc(54);
  header.write('BM', 0, 'latin1');
  header.writeUInt32LE(54 + 16, 2);
  header.writeUInt32LE(54, 10);
  header.writeUInt32LE(40, 14);
  header.writeInt32LE(2, 18);
  header.writeInt32LE(2, 22);
  header.writeUInt16LE(1, 26);
  header.writeUInt16LE(24, 28);
  header.writeUInt32LE(16, 34);
  return Buffer.concat([header, Buffer.alloc(16, 0x7f)]);
}

/** An ICO directory with one 16×16 entry pointing at an embedded PNG. */
function ico(png: Buffer): Buffer {
  const dir = Buffer.alloc(22);
  dir.writeUInt16LE(0, 0);
  dir.writeUInt16LE(1, 2);
  dir.writeUInt16LE(1, 4);
  dir[6] = 16;
  dir[7] = 16;
  dir.writeUInt16LE(1, 10);
  dir.writeUInt16LE(32, 12);
  dir.writeUInt32LE(png.length, 14);
  dir.writeUInt32LE(22, 18);
  return Buffer.concat([dir, png]);
}

const svg = (body: string, attrs = 'width="64" height="64"') =>
  Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" ${attrs}>${body}</svg>`);

const billionLaughs = Buffer.from(`<?xml version="1.0"?>
<!DOCTYPE svg [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><text x="0" y="20">&lol9;</text></svg>`);

/** The tests run with MAX_ORIGINAL_BYTES below this, so one original is too large to read. */
export const OVERSIZE = 1_500_000;

export async function hostileCorpus(): Promise<HostileOriginal[]> {
  const jpeg = await photoLikeJpeg(160, 120, { seed: 11 });
  const png = await encodeAs(await photoLikeJpeg(160, 120, { seed: 12 }), 'png');
  const smallPng = await alphaPng(16, 16);
  const tiny = await photoLikeJpeg(16, 16, { seed: 13 });
  const notImage = { status: 415, code: 'unsupported_image' } as const;
  const broken = { status: 422, code: 'undecodable_image' } as const;
  const tooLarge = { status: 413, code: 'input_too_large' } as const;
  const hugeSvg = svg('<rect width="100%" height="100%" fill="red"/>', 'width="100000" height="100000"');
  const deep = 20_000;
  return [
    { name: 'zero-byte file', file: 'empty.jpg', body: Buffer.alloc(0), contentType: 'image/jpeg', query: 'w=50', expect: notImage, why: 'no signature at all' },
    { name: 'truncated JPEG', file: 'cut.jpg', body: jpeg.subarray(0, Math.floor(jpeg.length * 0.6)), contentType: 'image/jpeg', query: 'w=50', expect: broken, why: 'failOn: truncated' },
    { name: 'JPEG cut inside its header', file: 'cut-header.jpg', body: jpeg.subarray(0, 40), contentType: 'image/jpeg', query: 'w=50', expect: broken, why: 'a JPEG signature with no frame' },
    { name: 'truncated PNG', file: 'cut.png', body: png.subarray(0, Math.floor(png.length * 0.6)), contentType: 'image/png', query: 'w=50', expect: broken, why: 'the IDAT stream ends early' },
    { name: 'text file named .jpg', file: 'readme.jpg', body: Buffer.from('Hello, I am not a picture.\n'.repeat(20)), contentType: 'image/jpeg', query: 'w=50', expect: notImage, why: 'sniffed, not trusted by name' },
    { name: 'HTML page named .png', file: 'page.png', body: Buffer.from('<!doctype html><html><script>alert(1)</script></html>'), contentType: 'image/png', query: '', expect: notImage, why: 'markup that is not SVG' },
    { name: 'PNG bytes named .jpg', file: 'lying.jpg', body: png, contentType: 'image/jpeg', query: 'w=50', expect: { status: 200, contentType: 'image/png' }, why: 'the real format decides' },
    { name: 'JPEG bytes stored as image/gif', file: 'lying.gif', body: jpeg, contentType: 'image/gif', query: 'w=50', expect: { status: 200, contentType: 'image/jpeg' }, why: 'the stored Content-Type is ignored' },
    { name: 'PNG bomb: IHDR 50000×50000, 1 KiB of IDAT', file: 'bomb.png', body: pngBomb(50_000, 50_000), contentType: 'image/png', query: 'w=50', expect: tooLarge, why: 'refused from the header, before decoding' },
    { name: 'PNG declaring 8000×8000 (under the pixel limit) with 1 MiB of pixel data', file: 'short-bomb.png', body: pngBomb(8000, 8000), contentType: 'image/png', query: 'w=50', expect: broken, why: 'decoding stops where the data ends' },
    { name: 'PNG whose IHDR says 0×0', file: 'zero.png', body: pngBomb(0, 0), contentType: 'image/png', query: 'w=50', expect: broken, why: 'an invalid header' },
    { name: 'JPEG declaring 65000×65000 with a 16×16 body', file: 'liar-size.jpg', body: withDeclaredJpegSize(tiny, 65_000, 65_000), contentType: 'image/jpeg', query: 'w=50', expect: tooLarge, why: 'refused from the SOF header' },
    // libjpeg pads scan data that ends at a marker (a warning, not the truncation failOn catches).
    { name: 'JPEG declaring 4000×4000 with a 16×16 body', file: 'liar-size-small.jpg', body: withDeclaredJpegSize(tiny, 4000, 4000), contentType: 'image/jpeg', query: 'w=50', expect: { status: 200, contentType: 'image/jpeg' }, why: 'within limits; the missing scan data is padded' },
    { name: 'GIF whose screen is 65535×65535 with one 1×1 frame', file: 'screen.gif', body: manyFrameGif(1, { width: 65_535, height: 65_535 }), contentType: 'image/gif', query: 'w=50', expect: { status: 200, contentType: 'image/gif' }, why: 'libvips sizes a GIF by its frames, not its logical screen' },
    { name: 'GIF frame declaring 65535×65535 with one pixel of data', file: 'frame.gif', body: manyFrameGif(1, { width: 1, height: 1 }, { width: 65_535, height: 65_535 }), contentType: 'image/gif', query: 'w=50', expect: tooLarge, why: 'refused from the frame descriptor' },
    { name: '5000-frame GIF as animated WebP', file: 'frames.gif', body: manyFrameGif(5000), contentType: 'image/gif', query: 'fm=webp', expect: { status: 413, code: 'too_many_frames' }, why: 'MAX_FRAMES=300' },
    { name: '5000-frame GIF as JPEG', file: 'frames-first.gif', body: manyFrameGif(5000), contentType: 'image/gif', query: 'fm=jpeg&w=8', expect: { status: 200, contentType: 'image/jpeg' }, why: 'only the first frame is read' },
    { name: 'JPEG with a garbage TIFF header in its EXIF', file: 'exif-garbage.jpg', body: withExifSegment(jpeg, Buffer.from('ZZ\x2a\x00garbage garbage garbage', 'latin1')), contentType: 'image/jpeg', query: 'w=50', expect: { status: 200, contentType: 'image/jpeg' }, why: 'EXIF is metadata: ignored when broken' },
    { name: 'JPEG whose EXIF IFD points far outside the segment', file: 'exif-pointer.jpg', body: withExifSegment(jpeg, Buffer.concat([Buffer.from('II\x2a\x00', 'latin1'), Buffer.from([0xf0, 0xff, 0xff, 0x7f]), seededBytes(64, 5)])), contentType: 'image/jpeg', query: 'w=50', expect: { status: 200, contentType: 'image/jpeg' }, why: 'EXIF offsets are not trusted' },
    { name: 'JPEG whose EXIF IFD claims 65535 entries', file: 'exif-count.jpg', body: withExifSegment(jpeg, Buffer.concat([Buffer.from('MM\x00\x2a\x00\x00\x00\x08\xff\xff', 'latin1'), seededBytes(48, 6)])), contentType: 'image/jpeg', query: 'w=50', expect: { status: 200, contentType: 'image/jpeg' }, why: 'EXIF counts are not trusted' },
    { name: 'JPEG with an HTML page appended (polyglot)', file: 'polyglot.jpg', body: Buffer.concat([jpeg, Buffer.from('<html><script>alert(document.domain)</script></html>')]), contentType: 'text/html', query: 'w=50', expect: { status: 200, contentType: 'image/jpeg' }, why: 'trailing bytes after EOI are ignored; the output is re-encoded' },
    { name: `an original over MAX_ORIGINAL_BYTES (${OVERSIZE} bytes)`, file: 'oversize.jpg', body: Buffer.concat([jpeg, Buffer.alloc(OVERSIZE - jpeg.length)]), contentType: 'image/jpeg', query: 'w=50', expect: { status: 413, code: 'original_too_large' }, why: 'refused from the HEAD, never downloaded' },
    { name: 'BMP', file: 'bitmap.bmp', body: bmp(), contentType: 'image/bmp', query: 'w=50', expect: notImage, why: 'not a format the service reads' },
    { name: 'ICO wrapping a PNG', file: 'favicon.ico', body: ico(smallPng), contentType: 'image/x-icon', query: 'w=8', expect: notImage, why: 'not a format the service reads' },
    { name: 'random bytes', file: 'noise.jpg', body: Buffer.concat([Buffer.from([0x00]), seededBytes(4096, 42)]), contentType: 'image/jpeg', query: 'w=50', expect: notImage, why: 'no signature' },
    { name: 'TIFF signature, then garbage', file: 'garbage.tif', body: Buffer.concat([Buffer.from('II\x2a\x00', 'latin1'), seededBytes(256, 7)]), contentType: 'image/tiff', query: 'w=50', expect: broken, why: 'sniffed as TIFF, undecodable' },
    { name: 'WebP RIFF header, then garbage', file: 'garbage.webp', body: Buffer.concat([Buffer.from('RIFF\x00\x10\x00\x00WEBPVP8 ', 'latin1'), seededBytes(256, 8)]), contentType: 'image/webp', query: 'w=50', expect: broken, why: 'sniffed as WebP, undecodable' },
    { name: 'AVIF ftyp box, then garbage', file: 'garbage.avif', body: Buffer.concat([u32(24), Buffer.from('ftypavif\0\0\0\0avifmif1', 'latin1'), seededBytes(256, 9)]), contentType: 'image/avif', query: 'w=50', expect: broken, why: 'sniffed as AVIF, undecodable' },
    { name: 'HEIC ftyp box, then garbage', file: 'garbage.heic', body: Buffer.concat([u32(24), Buffer.from('ftypheic\0\0\0\0heicmif1', 'latin1'), seededBytes(256, 10)]), contentType: 'image/heic', query: 'w=50', expect: broken, why: 'sniffed as HEIC, a format read since HEVC is decoded: undecodable, like the AVIF above' },
    { name: 'GIF signature, then garbage', file: 'garbage.gif', body: Buffer.concat([Buffer.from('GIF89a', 'latin1'), seededBytes(256, 11)]), contentType: 'image/gif', query: 'w=50', expect: broken, why: 'sniffed as GIF, undecodable' },
    { name: '100000×100000 SVG with SVG disabled', file: 'huge.svg', body: hugeSvg, contentType: 'image/svg+xml', query: 'w=50', expect: notImage, why: 'ALLOW_SVG is off by default' },
    { name: '100000×100000 SVG with ALLOW_SVG=true', file: 'huge-allowed.svg', body: hugeSvg, contentType: 'image/svg+xml', query: 'w=50', svg: true, expect: tooLarge, why: 'the declared size counts, like a raster header' },
    { name: 'SVG with a billion-laughs DOCTYPE', file: 'laughs.svg', body: billionLaughs, contentType: 'image/svg+xml', query: 'w=32', svg: true, expect: broken, why: 'entities are never expanded; the DOCTYPE is dropped' },
    { name: `SVG nested ${deep} groups deep`, file: 'deep.svg', body: svg(`${'<g>'.repeat(deep)}<rect width="8" height="8"/>${'</g>'.repeat(deep)}`), contentType: 'image/svg+xml', query: 'w=32', svg: true, expect: broken, why: 'the XML parser stops at 100 levels' },
    { name: 'SVG with an unclosed element', file: 'unclosed.svg', body: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8"></svg>'), contentType: 'image/svg+xml', query: 'fm=png', svg: true, expect: { status: 200, contentType: 'image/png' }, why: 'the sanitiser re-serialises it well-formed' },
    { name: 'SVG that is not XML at all', file: 'broken.svg', body: Buffer.from('<svg <<>> </svg'), contentType: 'image/svg+xml', query: 'w=32', svg: true, expect: broken, why: 'nothing left for librsvg to read' },
    {
      name: 'SVG reaching for local files and the network',
      file: 'external.svg',
      body: svg('<image href="file:///etc/passwd" width="8" height="8"/><image xlink:href="http://169.254.169.254/latest/meta-data/" width="8" height="8"/><rect width="64" height="64" fill="url(http://example.com/x)"/><circle r="8" fill="blue"/>'),
      contentType: 'image/svg+xml',
      query: 'w=32&fm=png',
      svg: true,
      expect: { status: 200, contentType: 'image/png' },
      why: 'external references are stripped, the rest renders',
    },
  ];
}
