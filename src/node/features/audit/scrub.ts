// Audit details are kept forever and exported to WORM storage, so a secret that reaches one can never be
// taken back. Before an entry is written its detail is turned into plain JSON and scrubbed:
// - a value under a key NAMED like a secret is replaced by "[redacted]", whatever it holds. The name is
//   split into words (snake_case, kebab-case, camelCase) and is secret when a word is one of key, secret,
//   token, password, passwd, passphrase, authorization, auth, cookie, credential(s), bearer, jwt, or when the
//   squashed name contains apikey / privatekey / accesstoken. Exception: names that identify rather than
//   hold a secret — ending in id / ids / fingerprint / type / kind, or containing the word public
//   (`key_id`, `api_key_id`, `token_type`, `public_key`).
// - string values that LOOK like credentials are redacted wherever they appear: a `Bearer …` header, a PEM
//   private key, a JWT, the secret part of a Tessera API key (`tsk_<id>_<secret>` keeps `tsk_<id>_`).
// - oversized input is cut (strings to 2048 characters, 10 levels deep, 200 keys/items per level), so a
//   peer cannot grow the permanent log with one long rejection reason.
// The result round-trips through JSON unchanged, so the hash computed now equals the one verified later.

export const REDACTED = '[redacted]';

const SECRET_WORDS = new Set([
  'key',
  'keys',
  'secret',
  'secrets',
  'token',
  'tokens',
  'password',
  'passwd',
  'passphrase',
  'authorization',
  'auth',
  'cookie',
  'credential',
  'credentials',
  'bearer',
  'jwt',
]);
const SECRET_SQUASHED = /apikey|privatekey|accesstoken|secret|password/;
const IDENTIFYING_LAST_WORDS = new Set(['id', 'ids', 'fingerprint', 'type', 'kind']);

const MAX_STRING = 2048;
const MAX_DEPTH = 10;
const MAX_ENTRIES = 200;

function words(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

/** Whether a detail key names a secret (see the file comment for the rule). */
export function isSecretKeyName(name: string): boolean {
  const parts = words(name);
  if (parts.length === 0) return false;
  if (IDENTIFYING_LAST_WORDS.has(parts[parts.length - 1]!) || parts.includes('public')) return false;
  return parts.some((word) => SECRET_WORDS.has(word)) || SECRET_SQUASHED.test(parts.join(''));
}

const VALUE_PATTERNS: [RegExp, string][] = [
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)/g, REDACTED],
  [/\bBearer\s+\S+/gi, `Bearer ${REDACTED}`],
  [/\beyJ[\w-]*\.[\w-]+\.[\w-]*/g, REDACTED],
  [/\b(tsk_[A-Za-z0-9]+_)[A-Za-z0-9_-]+/g, `$1${REDACTED}`],
];

export function scrubString(text: string): string {
  let out = text;
  for (const [pattern, replacement] of VALUE_PATTERNS) out = out.replace(pattern, replacement);
  return out.length > MAX_STRING ? `${out.slice(0, MAX_STRING)}…[truncated]` : out;
}

function scrubValue(value: unknown, depth: number): unknown {
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'string') return scrubString(value);
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (value instanceof Error) return { name: value.name, message: scrubString(value.message) };
  if (typeof value !== 'object') return undefined; // undefined, functions, symbols: as JSON drops them
  if (depth >= MAX_DEPTH) return '[too deep]';
  if (Array.isArray(value))
    return value.slice(0, MAX_ENTRIES).map((item) => scrubValue(item, depth + 1) ?? null);
  return scrubObject(value as Record<string, unknown>, depth + 1);
}

function scrubObject(input: Record<string, unknown>, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(input).slice(0, MAX_ENTRIES)) {
    const safeKey = scrubString(key);
    if (raw === undefined) continue;
    if (isSecretKeyName(key)) {
      out[safeKey] = REDACTED;
      continue;
    }
    const value = scrubValue(raw, depth);
    if (value !== undefined) out[safeKey] = value;
  }
  return out;
}

/** A detail safe to keep forever: plain JSON, secrets redacted, size bounded. */
export function scrubDetail(detail: Record<string, unknown> | undefined): Record<string, unknown> {
  if (detail === undefined || detail === null) return {};
  // The JSON round trip settles what JSON cannot keep exactly (e.g. -0 becomes 0), before hashing.
  return JSON.parse(JSON.stringify(scrubObject(detail, 0))) as Record<string, unknown>;
}
