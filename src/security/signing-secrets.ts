
import { ConfigError, SecretsUnavailableError } from '../errors.js';

/**
 * Where secrets come from: the URL-signing secrets, and the origin-verify secret CloudFront sends
 * (`config.edge.originVerify`), both loaded the same way. In AWS: an SSM SecureString parameter or
 * a Secrets Manager secret, read once per cold start (never from the repository or the template).
 * Locally and in tests: inline from the environment. Each source holds one or more secrets,
 * separated by commas or new lines (or a JSON array of strings, or a JSON object whose values are
 * the secrets, as Secrets Manager's key/value form stores them): all of them are accepted, so a
 * secret can be rotated without breaking live URLs or CloudFront's requests; signing tools use the
 * first.
 */
export type SecretsSource =
  | { readonly kind: 'none' }
  | { readonly kind: 'inline'; readonly secrets: readonly string[] }
  | { readonly kind: 'ssm'; readonly name: string }
  | { readonly kind: 'secrets-manager'; readonly id: string };

export const MIN_SECRET_LENGTH = 16;

/** `noun` names one secret in messages: "signing secret" unless the caller reads another kind. */
export function parseSecrets(text: string, origin: string, noun = 'signing secret'): string[] {
  let values: unknown;
  try {
    values = JSON.parse(text);
  } catch {
    values = undefined;
  }
  // Only a JSON array or object is read as JSON: a plain secret may happen to parse as a JSON
  // number (`12345678901234567890`, `12e34…` from a hex generator) or `true`.
  if (values === undefined || values === null || typeof values === 'number' || typeof values === 'boolean') {
    values = text.split(/[\n,]/);
  }
  // Secrets Manager's console stores key/value pairs as a JSON object: its values are the secrets.
  if (typeof values === 'object' && values !== null && !Array.isArray(values)) values = Object.values(values);
  if (!Array.isArray(values) || values.some((v) => typeof v !== 'string')) {
    throw new ConfigError(
      `${origin}: expected secrets separated by commas or new lines, a JSON array of strings, or a JSON object of strings`,
    );
  }
  const secrets = (values as string[]).map((v) => v.trim()).filter(Boolean);
  if (secrets.length === 0) throw new ConfigError(`${origin}: no ${noun} found`);
  if (secrets.some((s) => s.length < MIN_SECRET_LENGTH)) {
    throw new ConfigError(`${origin}: every ${noun} must be at least ${MIN_SECRET_LENGTH} characters`);
  }
  return secrets;
}

async function fetchSecretText(source: SecretsSource): Promise<string | undefined> {
  switch (source.kind) {
    case 'ssm': {
      const { getParameter } = await import('@aws-lambda-powertools/parameters/ssm');
      return getParameter(source.name, { decrypt: true, maxAge: Number.MAX_SAFE_INTEGER });
    }
    case 'secrets-manager': {
      const { getSecret } = await import('@aws-lambda-powertools/parameters/secrets');
      const value = await getSecret(source.id, { maxAge: Number.MAX_SAFE_INTEGER });
      return typeof value === 'string' ? value : value === undefined ? undefined : Buffer.from(value).toString('utf8');
    }
    default:
      return undefined;
  }
}

export interface SecretsProviderOptions {
  /** One secret of this kind, in log messages: "signing secret" by default. */
  readonly noun?: string;
  /** What the client is told (503 `secrets_unavailable`) while the secrets cannot be loaded. */
  readonly unavailableMessage?: string;
}

export type SecretsProvider = () => Promise<readonly string[] | undefined>;

/** Loads the secrets on first use and keeps them for the life of the instance. */
export function createSecretsProvider(source: SecretsSource, options: SecretsProviderOptions = {}): SecretsProvider {
  if (source.kind === 'none') return async () => undefined;
  if (source.kind === 'inline') return async () => source.secrets;
  const noun = options.noun ?? 'signing secret';
  let loading: Promise<readonly string[]> | undefined;
  return () => {
    loading ??= fetchSecretText(source)
      .then((text) => {
        if (text === undefined) throw new ConfigError(`${noun}s: ${source.kind} returned nothing`);
        return parseSecrets(text, `${noun}s from ${source.kind}`, noun);
      })
      .catch((error: unknown) => {
        // The client sees a 503 to retry; the cause (throttling, access, a bad value) is logged.
        throw new SecretsUnavailableError(error, options.unavailableMessage);
      });
    // A failed fetch (throttling, a network blip) is retried by the next request.
    loading.catch(() => {
      loading = undefined;
    });
    return loading;
  };
}
