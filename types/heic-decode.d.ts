/** heic-decode 2 (the bench's baseline: the plain way to decode an HEIC in Node). */
declare module 'heic-decode' {
  interface DecodedImage {
    readonly width: number;
    readonly height: number;
    /** RGBA, 8 bits per sample. */
    readonly data: Uint8ClampedArray;
  }
  /** Decodes the first top-level image. */
  function decode(input: { buffer: Uint8Array }): Promise<DecodedImage>;
  export default decode;
}
