import type { FitEnum, ResizeOptions, Sharp, SharpOptions } from 'sharp';
import type { ImageId } from './corpus.js';

/**
 * What each benchmark case asks the service for, and the same transform written directly against
 * sharp: the same output size, fit, crop strategy, orientation, profile handling and encoder
 * options as src/transform/pipeline.ts produces for that query — nothing more (no metadata read,
 * no limits, no timeout), so the difference is the service's own cost.
 */
export type Format = 'jpeg' | 'webp' | 'avif' | 'png';

export interface Recipe {
  readonly width?: number;
  readonly height?: number;
  readonly fit?: keyof FitEnum;
  readonly position?: string;
  readonly format: Format;
  readonly quality: number;
  /** The output cannot keep alpha: flatten onto white, as the pipeline does. */
  readonly flatten?: boolean;
}

export interface MissCase {
  readonly id: string;
  readonly label: string;
  readonly image: ImageId;
  /** The query string of the request (the service's URL API). */
  readonly query: string;
  readonly recipe: Recipe;
  /** Target ratio of the handler's miss to its baseline (issue 16: raw GET of the original + raw sharp + raw PUT). */
  readonly target: number;
  readonly targetNote: string;
  readonly warmup: number;
  readonly runs: number;
}

/** Issue 16: a miss ≤ 1.10× (raw GET of the original + raw sharp + raw PUT of the result), every case. */
export const MISS_TARGET = 1.1;
/** Issue 16: a hit ≤ 1.20× one raw GetObject of the stored variant. */
export const HIT_TARGET = 1.2;
const MISS = { target: MISS_TARGET, targetNote: '≤ 1.10× raw GET + sharp + PUT' } as const;

export const MISS_CASES: readonly MissCase[] = [
  { id: 'p16-webp800', label: '16 MP progressive JPEG → 800w WebP', image: 'photo16p', query: 'w=800&fm=webp', recipe: { width: 800, format: 'webp', quality: 80 }, ...MISS, warmup: 1, runs: 11 },
  { id: 'p16-jpeg800', label: '16 MP progressive JPEG → 800w JPEG', image: 'photo16p', query: 'w=800&fm=jpeg', recipe: { width: 800, format: 'jpeg', quality: 80 }, ...MISS, warmup: 1, runs: 11 },
  { id: 'p16-avif800', label: '16 MP progressive JPEG → 800w AVIF', image: 'photo16p', query: 'w=800&fm=avif', recipe: { width: 800, format: 'avif', quality: 80 }, ...MISS, warmup: 1, runs: 5 },
  { id: 'b16-webp800', label: '16 MP baseline JPEG → 800w WebP', image: 'photo16b', query: 'w=800&fm=webp', recipe: { width: 800, format: 'webp', quality: 80 }, ...MISS, warmup: 1, runs: 11 },
  { id: 'b16-jpeg800', label: '16 MP baseline JPEG → 800w JPEG', image: 'photo16b', query: 'w=800&fm=jpeg', recipe: { width: 800, format: 'jpeg', quality: 80 }, ...MISS, warmup: 1, runs: 11 },
  { id: 'p3-jpeg320', label: '3 MP JPEG → 320w JPEG', image: 'photo3', query: 'w=320&fm=jpeg', recipe: { width: 320, format: 'jpeg', quality: 80 }, ...MISS, warmup: 3, runs: 25 },
  { id: 'p3-cover400', label: '3 MP JPEG → 400×400 cover, attention', image: 'photo3', query: 'w=400&h=400&pos=attention', recipe: { width: 400, height: 400, fit: 'cover', position: 'attention', format: 'jpeg', quality: 80 }, ...MISS, warmup: 3, runs: 25 },
  { id: 'a6-webp800', label: '6 MP alpha PNG → 800w WebP', image: 'alpha6', query: 'w=800&fm=webp', recipe: { width: 800, format: 'webp', quality: 80 }, ...MISS, warmup: 1, runs: 7 },
  { id: 'a6-png800', label: '6 MP alpha PNG → 800w PNG', image: 'alpha6', query: 'w=800', recipe: { width: 800, format: 'png', quality: 80 }, ...MISS, warmup: 1, runs: 7 },
];

/** Variants served as hits: a small, a mid-sized and a large stored object. */
export const HIT_CASES: readonly { id: string; label: string; image: ImageId; query: string }[] = [
  { id: 'hit-p3-jpeg320', label: 'hit: 3 MP → 320w JPEG', image: 'photo3', query: 'w=320&fm=jpeg' },
  { id: 'hit-p16-webp800', label: 'hit: 16 MP → 800w WebP', image: 'photo16p', query: 'w=800&fm=webp' },
  { id: 'hit-a6-png1200', label: 'hit: 6 MP → 1200w PNG (large object)', image: 'alpha6', query: 'w=1200' },
];

type SharpFactory = (input: Buffer, options?: SharpOptions) => Sharp;

/** The raw-sharp side of a miss case: the pipeline's transform, written the plain way. */
export function rawTransform(sharp: SharpFactory, input: Buffer, recipe: Recipe, hasIcc: boolean): Sharp {
  let image = sharp(input, { autoOrient: true });
  if (recipe.width !== undefined || recipe.height !== undefined) {
    const resize: ResizeOptions = {
      width: recipe.width,
      height: recipe.height,
      fit: recipe.fit ?? 'inside',
      position: recipe.position ?? 'center',
      withoutEnlargement: true,
    };
    image = image.resize(resize);
  }
  if (recipe.flatten) image = image.flatten({ background: '#ffffff' });
  if (hasIcc) image = image.withIccProfile('srgb');
  switch (recipe.format) {
    case 'jpeg':
      return image.jpeg({ quality: recipe.quality, progressive: true });
    case 'webp':
      return image.webp({ quality: recipe.quality });
    case 'avif':
      return image.avif({ quality: recipe.quality });
    case 'png':
      return image.png({ progressive: true });
  }
}

/** An API Gateway HTTP API (payload 2.0) event for GET /{key}?{query}, shaped like events/*.json. */
export function apiEvent(key: string, query: string, requestId = 'bench') {
  const rawPath = `/${key.split('/').map(encodeURIComponent).join('/')}`;
  const queryStringParameters = Object.fromEntries(new URLSearchParams(query));
  const now = Date.now();
  return {
    version: '2.0',
    routeKey: 'GET /{proxy+}',
    rawPath,
    rawQueryString: query,
    headers: {
      accept: 'image/avif,image/webp,image/apng,image/*,*/*;q=0.8',
      host: 'images.example.com',
      'user-agent': 'bench',
    },
    queryStringParameters,
    pathParameters: { proxy: key },
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'images.example.com',
      domainPrefix: 'images',
      http: { method: 'GET', path: rawPath, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'bench' },
      requestId,
      routeKey: 'GET /{proxy+}',
      stage: '$default',
      time: new Date(now).toUTCString(),
      timeEpoch: now,
    },
    isBase64Encoded: false,
  };
}
