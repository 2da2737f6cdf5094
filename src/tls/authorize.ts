// Rule 4: authorization is a plain function (identity, context) → allow | deny(reason), built from small
// composable pieces. A chain that verifies is never enough on its own: adapters always run an authorizer.

import type { PeerIdentity } from './identity.ts';
import { EKU_CLIENT_AUTH, EKU_SERVER_AUTH } from './x509.ts';

export type Decision = { allow: true } | { allow: false; reason: string; detail: string };

export interface AuthzContext {
  /** 'server': we accepted a connection and judge the client; 'client': we dialled and judge the server. */
  side: 'server' | 'client';
  /** The entity URI the peer declared (manifest, registration, configured origin), when known. */
  expectedUri?: string;
  /** For client-side checks: the origin dialled, e.g. https://127.0.0.1:8765. */
  origin?: string;
  now: Date;
}

export type Authorizer = (identity: PeerIdentity, context: AuthzContext) => Decision;

export const allow: Decision = { allow: true };
export const deny = (reason: string, detail: string): Decision => ({ allow: false, reason, detail });

type Source<T> = T | (() => T);
const read = <T>(source: Source<T>): T => (typeof source === 'function' ? (source as () => T)() : source);

/** The peer's URI SANs include exactly this URI (string equality on the typed SAN, no normalisation). */
export function exactUri(uri: Source<string>): Authorizer {
  return (identity) => {
    const wanted = read(uri);
    return identity.uris.includes(wanted)
      ? allow
      : deny('uri_mismatch', `expected URI SAN ${wanted}, peer has ${list(identity.uris)}`);
  };
}

/** The peer's URI SAN equals the entity URI it declared (context.expectedUri); no declaration → deny. */
export function declaredIdentity(): Authorizer {
  return (identity, context) => {
    if (!context.expectedUri) return deny('no_declared_identity', 'no entity URI is known for this peer');
    return exactUri(context.expectedUri)(identity, context);
  };
}

/** Some URI SAN starts with the prefix. The prefix must end in '/' or ':' so 'spiffe://a.org' cannot match 'spiffe://a.org.evil'. */
export function uriPrefix(prefix: string): Authorizer {
  if (!/[/:]$/.test(prefix))
    throw new TypeError(`uriPrefix: prefix must end with "/" or ":" (got ${prefix})`);
  return (identity) =>
    identity.uris.some((uri) => uri.startsWith(prefix))
      ? allow
      : deny('uri_prefix_mismatch', `no URI SAN under ${prefix}; peer has ${list(identity.uris)}`);
}

/** The peer holds a SPIFFE ID (exactly one spiffe:// URI SAN) in this trust domain. */
export function spiffeTrustDomain(trustDomain: string): Authorizer {
  const domain = trustDomain.toLowerCase();
  return (identity) => {
    if (!identity.spiffeId)
      return deny('no_spiffe_id', `peer has no single SPIFFE ID; URI SANs: ${list(identity.uris)}`);
    const host = new URL(identity.spiffeId).host;
    return host === domain
      ? allow
      : deny('trust_domain_mismatch', `SPIFFE ID ${identity.spiffeId} is not in trust domain ${domain}`);
  };
}

/** The peer's SubjectPublicKeyInfo SHA-256 is one of the pins (hex, optional "sha256:" prefix and colons). */
export function spkiPin(pins: Source<Iterable<string>>): Authorizer {
  return (identity) => {
    const wanted = new Set([...read(pins)].map(normaliseHash));
    return wanted.has(identity.spkiSha256)
      ? allow
      : deny('spki_not_pinned', `SPKI sha256:${identity.spkiSha256} is not pinned`);
  };
}

export interface DenyListEntries {
  uris?: Iterable<string>;
  spkiSha256?: Iterable<string>;
  fingerprints256?: Iterable<string>;
  serials?: Iterable<string>;
}

/** A deny-list with every entry normalised, as sets. */
interface DenySets {
  uris: Set<string>;
  spkiSha256: Set<string>;
  fingerprints256: Set<string>;
  serials: Set<string>;
}

/**
 * Normalised once per entries object when it cannot change (frozen, with frozen arrays: e.g. a source
 * that returns the same frozen answer until its data changes); anything mutable is read afresh each time.
 */
const denySets = new WeakMap<DenyListEntries, DenySets>();

function denySetsOf(entries: DenyListEntries): DenySets {
  const cached = denySets.get(entries);
  if (cached) return cached;
  const normalised = (values: Iterable<string> | undefined, normalise: (v: string) => string) =>
    new Set([...(values ?? [])].map(normalise));
  const sets = {
    uris: new Set(entries.uris ?? []),
    spkiSha256: normalised(entries.spkiSha256, normaliseHash),
    fingerprints256: normalised(entries.fingerprints256, normaliseHash),
    serials: normalised(entries.serials, (s) => s.toLowerCase()),
  };
  const lists = [entries.uris, entries.spkiSha256, entries.fingerprints256, entries.serials];
  if (
    Object.isFrozen(entries) &&
    lists.every((list) => list === undefined || (Array.isArray(list) && Object.isFrozen(list)))
  )
    denySets.set(entries, sets);
  return sets;
}

/** Denies a listed peer (revoked URI, key, certificate or serial); allows everyone else. Combine with allOf. */
export function denyList(entries: Source<DenyListEntries>): Authorizer {
  return (identity) => {
    const current = denySetsOf(read(entries));
    const uri = identity.uris.find((u) => current.uris.has(u));
    if (uri) return deny('denied', `URI ${uri} is on the deny-list`);
    if (current.spkiSha256.has(identity.spkiSha256)) return deny('denied', 'public key is on the deny-list');
    if (current.fingerprints256.has(identity.fingerprint256))
      return deny('denied', 'certificate is on the deny-list');
    if (current.serials.has(identity.serial))
      return deny('denied', `serial ${identity.serial} is on the deny-list`);
    return allow;
  };
}

/** Allows when any authorizer allows; otherwise denies with every reason. */
export function anyOf(...authorizers: Authorizer[]): Authorizer {
  return (identity, context) => {
    const denials: string[] = [];
    for (const authorize of authorizers) {
      const decision = authorize(identity, context);
      if (decision.allow) return decision;
      denials.push(`${decision.reason}: ${decision.detail}`);
    }
    return deny('no_rule_matched', denials.join('; ') || 'no authorizer configured');
  };
}

/** Allows only when every authorizer allows; the first denial wins. */
export function allOf(...authorizers: Authorizer[]): Authorizer {
  if (authorizers.length === 0) throw new TypeError('allOf needs at least one authorizer');
  return (identity, context) => {
    for (const authorize of authorizers) {
      const decision = authorize(identity, context);
      if (!decision.allow) return decision;
    }
    return allow;
  };
}

/**
 * Checks every adapter applies before the caller's authorizer: the peer's leaf is not a CA, allows the
 * usage of its role (RFC 5280: no EKU extension = any purpose; an EKU extension must list it), and is
 * inside its validity period (resumed sessions skip OpenSSL's chain check).
 */
export const peerCertificateRules: Authorizer = (identity, context) => {
  if (identity.isCa) return deny('leaf_is_ca', 'peer presented a CA certificate as its leaf');
  const needed = context.side === 'server' ? EKU_CLIENT_AUTH : EKU_SERVER_AUTH;
  if (identity.extendedKeyUsages !== null && !identity.extendedKeyUsages.includes(needed)) {
    const role = context.side === 'server' ? 'clientAuth' : 'serverAuth';
    return deny('eku_missing', `peer certificate lacks extended key usage ${role}`);
  }
  const now = context.now.getTime();
  if (identity.notAfter.getTime() < now)
    return deny('cert_expired', `peer certificate expired at ${identity.notAfter.toISOString()}`);
  if (identity.notBefore.getTime() > now)
    return deny(
      'cert_not_yet_valid',
      `peer certificate not valid before ${identity.notBefore.toISOString()}`,
    );
  return allow;
};

function normaliseHash(value: string): string {
  return value
    .replace(/^sha256:/i, '')
    .replaceAll(':', '')
    .toLowerCase();
}

function list(values: string[]): string {
  return values.length > 0 ? values.join(', ') : 'none';
}
