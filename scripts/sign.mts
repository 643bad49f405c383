import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.js';
import { createSecretsProvider } from '../src/security/signing-secrets.js';
import { signPath } from '../src/security/url-signature.js';

/**
 * `npm run sign -- "/photos/a.jpg?w=800" [--expires-in 3600] [--base-url https://img.example.com]`
 * prints the URL with its signature. The secret comes from the same configuration as the
 * service: SIGNING_SECRETS, or the SSM parameter / Secrets Manager secret it names (AWS
 * credentials needed then). The first secret signs.
 */
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    'expires-in': { type: 'string' },
    'base-url': { type: 'string' },
  },
});

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

if (positionals.length !== 1) {
  fail('usage: npm run sign -- "/path/to/image.jpg?w=800" [--expires-in SECONDS] [--base-url URL]');
}
const config = loadConfig(process.env);
const secrets = await createSecretsProvider(config.signingSecrets)();
if (!secrets) fail('No signing secret configured: set SIGNING_SECRETS (or SIGNING_SECRETS_SSM_PARAMETER / SIGNING_SECRETS_SECRET_ID).');

let expiresAt: number | undefined;
if (values['expires-in'] !== undefined) {
  const seconds = Number(values['expires-in']);
  if (!Number.isInteger(seconds) || seconds <= 0) fail('--expires-in takes a whole number of seconds');
  expiresAt = Math.floor(Date.now() / 1000) + seconds;
}
const path = positionals[0]!.startsWith('/') ? positionals[0]! : `/${positionals[0]}`;
const signed = signPath(path, secrets[0]!, { expiresAt });
console.log(`${(values['base-url'] ?? '').replace(/\/$/, '')}${signed}`);
