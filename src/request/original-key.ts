import { ImageServiceError, InvalidRequestError } from '../errors.js';

/** S3's own limit on a key's length, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;

/**
 * The first path segment of the playground's routes (`/_playground`, `/_playground/…`, served by
 * their own function where the stage turns the playground on). Never an image key, whether the
 * playground runs or not: a URL never changes from an image to the page, or back, with a setting.
 */
export const PLAYGROUND_SEGMENT = '_playground';

/** A URL under `/_playground` that reached the image function: the page does not run here. */
export class ReservedPathError extends ImageServiceError {
  constructor() {
    super(404, 'not_found', `Nothing is served under /${PLAYGROUND_SEGMENT}: the path is reserved for the playground page, which does not run here.`);
  }
}

export interface KeyRules {
  /** Keys the client may not name because they hold variants (same-bucket setups). */
  readonly reservedPrefix?: string;
  /** Room left for the key once the originals prefix is put in front (S3 allows 1024 bytes in all). */
  readonly maxKeyBytes?: number;
}

const invalidKey = (message: string) => new InvalidRequestError('invalid_key', message);

/**
 * Checks the original's key as decoded from the URL. S3 itself has no directories, but keys are
 * also used in logs, metadata and by tools that do treat them as paths: anything that could
 * reach outside the originals prefix in such a tool, or smuggle a second decoding, is refused.
 */
export function validateKey(key: string, rules: KeyRules = {}): string {
  if (key === '') throw invalidKey('The URL names no image: use /{key}?w=… or /{W}x{H}/{key}.');
  const maxBytes = rules.maxKeyBytes ?? MAX_KEY_BYTES;
  if (Buffer.byteLength(key, 'utf8') > maxBytes) {
    throw invalidKey(`The image key is longer than ${maxBytes} bytes.`);
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(key)) throw invalidKey('The image key contains control characters.');
  if (key.startsWith('/')) throw invalidKey('The image key must not start with "/".');
  if (key.includes('\\')) throw invalidKey('The image key must not contain backslashes.');
  if (key.split('/').some((segment) => segment === '..' || segment === '.')) {
    throw invalidKey('The image key must not contain "." or ".." segments.');
  }
  if (/%(2e|2f|5c|25|00)/i.test(key)) {
    throw invalidKey('The image key contains an encoded "%", ".", "/", "\\" or NUL after decoding: encode the URL once.');
  }
  if (key.includes('\uFFFD')) throw invalidKey('The image key is not valid UTF-8.');
  if (key.split('/', 1)[0] === PLAYGROUND_SEGMENT) throw new ReservedPathError();
  if (rules.reservedPrefix && key.startsWith(rules.reservedPrefix)) {
    throw invalidKey('The image key names the variants cache, which is not readable as an original.');
  }
  return key;
}
