/**
 * Edits of small HEIF files at the box level (ISO BMFF), enough for the files heif-enc writes
 * (iloc version 0 with 4-byte offsets, ipma version 0 with 1-byte property indices): what an
 * iPhone adds to a photo (a rotation), a burst's choice of primary image, a header that lies
 * about the size. Used by test/fixtures/heic/make.mts, the tests and the bench.
 */
interface Box {
  readonly type: string;
  readonly body: Buffer;
}

function box(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32BE(body.length + 8);
  header.write(type, 4, 'latin1');
  return Buffer.concat([header, body]);
}

function parse(bytes: Buffer): Box[] {
  const boxes: Box[] = [];
  for (let offset = 0; offset + 8 <= bytes.length; ) {
    const size = bytes.readUInt32BE(offset);
    if (size < 8) throw new Error(`unsupported box size ${size} at ${offset}`);
    boxes.push({ type: bytes.toString('latin1', offset + 4, offset + 8), body: bytes.subarray(offset + 8, offset + size) });
    offset += size;
  }
  return boxes;
}

/** Rebuilds the file with sizes recomputed; `edit` may replace any box inside meta/iprp. */
function rebuild(boxes: Box[], edit: (type: string, body: Buffer) => Buffer | undefined): Buffer {
  return Buffer.concat(
    boxes.map(({ type, body }) => {
      if (type === 'meta') return box(type, Buffer.concat([body.subarray(0, 4), rebuild(parse(body.subarray(4)), edit)]));
      if (type === 'iprp') return box(type, rebuild(parse(body), edit));
      return edit(type, body) ?? box(type, body);
    }),
  );
}

/** Shifts every item's base offset in an iloc (version 0, 4-byte offsets, lengths, base offsets). */
function shiftedIloc(body: Buffer, delta: number): Buffer {
  const iloc = Buffer.from(body);
  if (iloc[0] !== 0 || iloc[4] !== 0x44 || iloc[5] !== 0x40) throw new Error('unsupported iloc layout');
  for (let i = 0, offset = 8; i < iloc.readUInt16BE(6); i++) {
    iloc.writeUInt32BE(iloc.readUInt32BE(offset + 4) + delta, offset + 4);
    offset += 10 + iloc.readUInt16BE(offset + 8) * 8;
  }
  return iloc;
}

/**
 * Adds an `irot` property (quarter turns counter-clockwise) to item 1, as iPhones rotate portrait
 * photos: 3 turns the stored landscape pixels 90° clockwise for display.
 */
export function withIrot(file: Buffer, quarterTurns: 0 | 1 | 2 | 3): Buffer {
  const build = (delta: number) => {
    let index = 0;
    return rebuild(parse(file), (type, body) => {
      if (type === 'ipco') {
        index = parse(body).length + 1;
        return box(type, Buffer.concat([body, box('irot', Buffer.from([quarterTurns]))]));
      }
      if (type === 'ipma') {
        if (body[0] !== 0 || (body[3]! & 1) !== 0) throw new Error('unsupported ipma layout');
        const parts = [body.subarray(0, 8)];
        for (let i = 0, offset = 8; i < body.readUInt32BE(4); i++) {
          const count = body[offset + 2]!;
          const entry = body.subarray(offset, offset + 3 + count);
          const item = body.readUInt16BE(offset);
          // Marked essential: a reader that ignored it would show the photo on its side.
          parts.push(item === 1 ? Buffer.concat([entry.subarray(0, 2), Buffer.from([count + 1]), entry.subarray(3), Buffer.from([0x80 | index])]) : entry);
          offset += 3 + count;
        }
        return box(type, Buffer.concat(parts));
      }
      // The mdat moved by as many bytes as were added before it.
      if (type === 'iloc') return box(type, shiftedIloc(body, delta));
      return undefined;
    });
  };
  return build(build(0).length - file.length);
}

/** Makes item `id` the primary image (pitm version 0). */
export function withPrimary(file: Buffer, id: number): Buffer {
  return rebuild(parse(file), (type, body) => {
    if (type !== 'pitm') return undefined;
    const pitm = Buffer.from(body);
    pitm.writeUInt16BE(id, 4);
    return box(type, pitm);
  });
}

/** Rewrites every `ispe` (image spatial extents) to claim width × height, leaving the data as it is. */
export function withDeclaredSize(file: Buffer, width: number, height: number): Buffer {
  return rebuild(parse(file), (type, body) => {
    if (type !== 'ipco') return undefined;
    const properties = parse(body).map(({ type: property, body: value }) => {
      if (property !== 'ispe') return box(property, value);
      const ispe = Buffer.from(value);
      ispe.writeUInt32BE(width, 4);
      ispe.writeUInt32BE(height, 8);
      return box(property, ispe);
    });
    return box(type, Buffer.concat(properties));
  });
}
