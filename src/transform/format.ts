import type { ImageFormatRequest, OutputFormat } from './operations.js';

/** Formats sharp reads whose output keeps the same format when no `fm` is asked for. */
const KEPT_FORMATS: ReadonlySet<string> = new Set(['jpeg', 'png', 'webp', 'avif', 'gif']);

export const CONTENT_TYPES: Readonly<Record<OutputFormat, string>> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  avif: 'image/avif',
  gif: 'image/gif',
};

/**
 * `fm=auto`: the best format the client says it accepts. Only explicit types count: browsers that
 * send a bare `image/*` or `*\/*` do not promise to decode AVIF or WebP.
 */
export function negotiateFormat(accept: string | undefined): 'avif' | 'webp' | 'auto' {
  const accepted = new Set<string>();
  for (const part of (accept ?? '').toLowerCase().split(',')) {
    const [type, ...params] = part.split(';').map((s) => s.trim());
    const q = params.find((p) => p.startsWith('q='));
    if (type && !(q !== undefined && Number(q.slice(2)) === 0)) accepted.add(type);
  }
  if (accepted.has('image/avif')) return 'avif';
  if (accepted.has('image/webp')) return 'webp';
  return 'auto';
}

export interface SourceTraits {
  /** sharp's name of the decoded format: jpeg, png, webp, gif, heif, tiff, svg, … */
  readonly format: string;
  /** For HEIF containers: whether the payload is AV1 (AVIF) rather than HEVC (HEIC). */
  readonly isAvif: boolean;
  readonly hasAlpha: boolean;
}

/** The concrete output format for a spec's `fm` and the original it is applied to. */
export function resolveOutputFormat(fm: ImageFormatRequest | undefined, source: SourceTraits): OutputFormat {
  if (fm !== undefined && fm !== 'auto') return fm;
  if (fm === undefined) {
    if (source.format === 'heif' && source.isAvif) return 'avif';
    if (KEPT_FORMATS.has(source.format)) return source.format as OutputFormat;
  }
  return source.hasAlpha ? 'png' : 'jpeg';
}
