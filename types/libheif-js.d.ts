/**
 * The part of libheif-js (libheif compiled to WebAssembly, base64-inlined) that
 * src/transform/heic.ts uses. The package ships declarations only for its Emscripten module's raw
 * exports (libheif-wasm/libheif.d.ts), not for its entry points or the `heif_js_*` helpers.
 */
declare module 'libheif-js/libheif-wasm/libheif-bundle.js' {
  /** Embind enum values: compared by identity with the module's own constants, or by `.value`. */
  interface HeifEnum {
    readonly value: number;
  }

  interface HeifError {
    readonly code: HeifEnum;
    readonly subcode?: HeifEnum;
    readonly message: string;
  }

  /** Opaque pointers into the module's memory. */
  type HeifContext = number & { readonly __brand: 'heif_context' };
  type HeifImageHandle = object & { readonly __brand: 'heif_image_handle' };
  type HeifImagePointer = object & { readonly __brand: 'heif_image' };

  interface HeifChannel {
    readonly id: HeifEnum;
    readonly width: number;
    readonly height: number;
    /** Bytes per row, padded by libheif. */
    readonly stride: number;
    readonly bits_per_pixel: number;
    /** A view into the module's memory: valid until the image is released. */
    readonly data: Uint8Array;
  }

  interface HeifDecodedImage {
    readonly image: HeifImagePointer;
    readonly width: number;
    readonly height: number;
    readonly channels: readonly HeifChannel[];
  }

  export interface LibHeif {
    readonly heif_error_code: { readonly heif_error_Ok: HeifEnum };
    readonly heif_colorspace: { readonly heif_colorspace_RGB: HeifEnum };
    readonly heif_chroma: { readonly heif_chroma_interleaved_RGB: HeifEnum; readonly heif_chroma_interleaved_RGBA: HeifEnum };
    heif_context_alloc(): HeifContext;
    heif_context_free(context: HeifContext): void;
    /** Parses the boxes (headers, item locations): no pixel is decoded. */
    heif_context_read_from_memory(context: HeifContext, bytes: Uint8Array): HeifError;
    heif_js_context_get_primary_image_handle(context: HeifContext): HeifImageHandle | HeifError | null;
    heif_image_handle_get_width(handle: HeifImageHandle): number;
    heif_image_handle_get_height(handle: HeifImageHandle): number;
    heif_image_handle_has_alpha_channel(handle: HeifImageHandle): number;
    heif_image_handle_release(handle: HeifImageHandle): void;
    /** Decodes with libheif's default options: irot, imir and clap applied. */
    heif_js_decode_image2(handle: HeifImageHandle, colorspace: HeifEnum, chroma: HeifEnum): Promise<HeifDecodedImage | HeifError | null>;
    heif_image_release(image: HeifImagePointer): void;
  }

  /** The Emscripten factory: instantiates the WebAssembly module synchronously. */
  export default function createLibHeif(): LibHeif;
}
