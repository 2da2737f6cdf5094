// Rule 4: each authorizer on identities parsed from real certificates, their deny reasons, run-time
// getters, and composition with anyOf / allOf.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { IssuedCertificate } from '../../src/pki/certificate.ts';
import {
  type Authorizer,
  type AuthzContext,
  allOf,
  anyOf,
  type Decision,
  type DenyListEntries,
  declaredIdentity,
  denyList,
  exactUri,
  peerCertificateRules,
  spiffeTrustDomain,
  spkiPin,
  uriPrefix,
} from '../../src/tls/authorize.ts';
import { type PeerIdentity, peerIdentityFromDer } from '../../src/tls/identity.ts';
import { createTestCa, DAY_MS, type TestCa } from '../support/pki.ts';

const server: AuthzContext = { side: 'server', now: new Date() };
const A = 'spiffe://a.org/node/a';
const B = 'spiffe://a.org/node/b';
const EVIL = 'spiffe://a.org.evil/node/a';

const identityOf = (cert: IssuedCertificate): PeerIdentity =>
  peerIdentityFromDer(new X509Certificate(cert.certPem).raw);

function denied(decision: Decision, reason: string, detail?: RegExp): void {
  assert.equal(decision.allow, false, `expected a denial with ${reason}`);
  if (decision.allow) return;
  assert.equal(decision.reason, reason);
  if (detail) assert.match(decision.detail, detail);
}

function allowed(decision: Decision): void {
  assert.deepEqual(decision, { allow: true });
}

let ca: TestCa;
let a: PeerIdentity;
let b: PeerIdentity;
let evil: PeerIdentity;
let aCert: IssuedCertificate;

before(async () => {
  ca = await createTestCa('Authz CA');
  aCert = await ca.issue('a', { uris: [A] });
  a = identityOf(aCert);
  b = identityOf(await ca.issue('b', { uris: [B] }));
  evil = identityOf(await ca.issue('evil', { uris: [EVIL] }));
});

describe('exactUri', () => {
  test('allows the exact URI SAN, denies others with uri_mismatch naming both sides', () => {
    allowed(exactUri(A)(a, server));
    denied(exactUri(A)(b, server), 'uri_mismatch', new RegExp(`expected URI SAN ${A}, peer has ${B}`));
  });

  test('string equality, no normalisation: trailing slash, case and prefixes do not match', () => {
    denied(exactUri(`${A}/`)(a, server), 'uri_mismatch');
    denied(exactUri(A.toUpperCase())(a, server), 'uri_mismatch');
    denied(exactUri('spiffe://a.org/node')(a, server), 'uri_mismatch');
  });

  test('a peer without URI SANs is described as having none', async () => {
    const bare = identityOf(await ca.issue('bare', { uris: [] }));
    denied(exactUri(A)(bare, server), 'uri_mismatch', /peer has none/);
  });

  test('a getter is read on every decision', () => {
    let wanted = A;
    const authorize = exactUri(() => wanted);
    allowed(authorize(a, server));
    wanted = B;
    denied(authorize(a, server), 'uri_mismatch');
    allowed(authorize(b, server));
  });
});

describe('declaredIdentity', () => {
  test('the URI SAN must equal the URI the peer declared', () => {
    allowed(declaredIdentity()(a, { ...server, expectedUri: A }));
    denied(declaredIdentity()(a, { ...server, expectedUri: B }), 'uri_mismatch', new RegExp(B));
  });

  test('no declared URI → no_declared_identity (a verified chain alone is not enough)', () => {
    denied(declaredIdentity()(a, server), 'no_declared_identity', /no entity URI is known/);
  });
});

describe('uriPrefix', () => {
  test("'spiffe://a.org/' admits a.org peers and not 'spiffe://a.org.evil/…'", () => {
    const authorize = uriPrefix('spiffe://a.org/');
    allowed(authorize(a, server));
    allowed(authorize(b, server));
    denied(
      authorize(evil, server),
      'uri_prefix_mismatch',
      new RegExp(`no URI SAN under spiffe://a.org/; peer has ${EVIL}`),
    );
  });

  test("a prefix without a trailing '/' or ':' (e.g. 'spiffe://a.org') is refused at construction", () => {
    assert.throws(() => uriPrefix('spiffe://a.org'), {
      name: 'TypeError',
      message: 'uriPrefix: prefix must end with "/" or ":" (got spiffe://a.org)',
    });
    // The reason it is refused: a raw startsWith would have admitted the evil trust domain.
    assert.ok(EVIL.startsWith('spiffe://a.org'));
  });

  test("a ':' prefix works for URN-style identities", async () => {
    const urn = identityOf(await ca.issue('urn', { uris: ['urn:tessera:node:7'] }));
    allowed(uriPrefix('urn:tessera:')(urn, server));
    denied(uriPrefix('urn:other:')(urn, server), 'uri_prefix_mismatch');
  });
});

describe('spiffeTrustDomain', () => {
  test('admits a SPIFFE ID of the trust domain (configured case-insensitively)', () => {
    allowed(spiffeTrustDomain('a.org')(a, server));
    allowed(spiffeTrustDomain('A.ORG')(a, server));
  });

  test("'a.org' does not admit 'spiffe://a.org.evil/…' → trust_domain_mismatch", () => {
    denied(
      spiffeTrustDomain('a.org')(evil, server),
      'trust_domain_mismatch',
      new RegExp(`SPIFFE ID ${EVIL} is not in trust domain a.org`),
    );
  });

  test('no single SPIFFE ID (two URI SANs, or none) → no_spiffe_id', async () => {
    const two = identityOf(await ca.issue('two', { uris: [A, B] }));
    denied(spiffeTrustDomain('a.org')(two, server), 'no_spiffe_id', new RegExp(`URI SANs: ${A}, ${B}`));
    const https = identityOf(await ca.issue('https', { uris: ['https://a.org/node/a'] }));
    denied(spiffeTrustDomain('a.org')(https, server), 'no_spiffe_id');
  });
});

describe('spkiPin', () => {
  test('accepts the pin as bare hex, "sha256:" prefixed, or upper-case with colons', () => {
    const hex = a.spkiSha256;
    const colons = hex.toUpperCase().match(/../g)!.join(':');
    allowed(spkiPin([hex])(a, server));
    allowed(spkiPin([`sha256:${hex}`])(a, server));
    allowed(spkiPin([`SHA256:${colons}`])(a, server));
    denied(
      spkiPin([hex])(b, server),
      'spki_not_pinned',
      new RegExp(`SPKI sha256:${b.spkiSha256} is not pinned`),
    );
    denied(spkiPin([])(a, server), 'spki_not_pinned');
  });

  test('a renewed certificate with the same key keeps its pin; a new key does not', async () => {
    const renewed = identityOf(await ca.issue('a', { uris: [A], keyPair: aCert.keyPair }));
    assert.notEqual(renewed.fingerprint256, a.fingerprint256, 'a different certificate');
    allowed(spkiPin([a.spkiSha256])(renewed, server));
    const rekeyed = identityOf(await ca.issue('a', { uris: [A] }));
    denied(spkiPin([a.spkiSha256])(rekeyed, server), 'spki_not_pinned');
  });

  test('a getter is read on every decision', () => {
    const pins = new Set<string>();
    const authorize = spkiPin(() => pins);
    denied(authorize(a, server), 'spki_not_pinned');
    pins.add(a.spkiSha256);
    allowed(authorize(a, server));
  });
});

describe('denyList', () => {
  test('the getter is read on every decision: URI, SPKI, fingerprint, serial entries deny; removal allows', () => {
    let entries: DenyListEntries = {};
    const authorize = denyList(() => entries);
    allowed(authorize(a, server));

    entries = { uris: new Set([A]) };
    denied(authorize(a, server), 'denied', new RegExp(`URI ${A} is on the deny-list`));
    allowed(authorize(b, server));

    entries = { spkiSha256: [`sha256:${a.spkiSha256.toUpperCase()}`] };
    denied(authorize(a, server), 'denied', /public key is on the deny-list/);

    entries = { fingerprints256: [a.fingerprint256.match(/../g)!.join(':')] };
    denied(authorize(a, server), 'denied', /certificate is on the deny-list/);

    entries = { serials: [a.serial.toUpperCase()] };
    denied(authorize(a, server), 'denied', new RegExp(`serial ${a.serial} is on the deny-list`));

    entries = {};
    allowed(authorize(a, server));
  });

  test('a mutable Set handed over directly is also seen at run time', () => {
    const revoked = { uris: new Set<string>() };
    const authorize = denyList(revoked);
    allowed(authorize(b, server));
    revoked.uris.add(B);
    denied(authorize(b, server), 'denied');
  });
  test('a frozen answer is normalised once and reused; a new answer is read again', () => {
    const frozen = (entries: DenyListEntries): DenyListEntries =>
      Object.freeze(
        Object.fromEntries(Object.entries(entries).map(([k, v]) => [k, Object.freeze([...(v as string[])])])),
      );
    let entries = frozen({ spkiSha256: [`SHA256:${a.spkiSha256.toUpperCase()}`] });
    const authorize = denyList(() => entries);
    denied(authorize(a, server), 'denied', /public key is on the deny-list/);
    denied(authorize(a, server), 'denied', /public key is on the deny-list/);
    allowed(authorize(b, server));
    entries = frozen({ uris: [B] });
    allowed(authorize(a, server));
    denied(authorize(b, server), 'denied', new RegExp(`URI ${B} is on the deny-list`));
  });
});

describe('anyOf / allOf', () => {
  const never: Authorizer = () => ({ allow: false, reason: 'never', detail: 'never allows' });

  test('anyOf allows when one allows; otherwise no_rule_matched listing every reason', () => {
    const authorize = anyOf(exactUri(B), uriPrefix('spiffe://a.org/'));
    allowed(authorize(a, server));
    const decision = anyOf(exactUri(B), spiffeTrustDomain('b.org'), never)(a, server);
    denied(decision, 'no_rule_matched');
    assert.ok(!decision.allow);
    assert.match(decision.detail, /^uri_mismatch: .*; trust_domain_mismatch: .*; never: never allows$/);
  });

  test('anyOf() with no authorizers denies', () => {
    denied(anyOf()(a, server), 'no_rule_matched', /no authorizer configured/);
  });

  test('allOf: the first denial wins; all allow → allow', () => {
    const revoked = new Set<string>();
    const authorize = allOf(
      denyList(() => ({ uris: revoked })),
      anyOf(exactUri(A), exactUri(B)),
    );
    allowed(authorize(a, server));
    revoked.add(A);
    denied(authorize(a, server), 'denied');
    allowed(authorize(b, server));
    denied(allOf(exactUri(B), never)(a, server), 'uri_mismatch');
    denied(allOf(exactUri(A), never)(a, server), 'never');
  });

  test('allOf() with no authorizers is refused at construction', () => {
    assert.throws(() => allOf(), { name: 'TypeError', message: 'allOf needs at least one authorizer' });
  });
});

describe('peerCertificateRules (applied by every adapter)', () => {
  test('CA as leaf → leaf_is_ca', async () => {
    const caLeaf = identityOf(await ca.issue('ca-leaf', { isCa: true }));
    denied(peerCertificateRules(caLeaf, server), 'leaf_is_ca');
  });

  test('EKU for the role: a client needs clientAuth, a server needs serverAuth → eku_missing', async () => {
    const serverOnly = identityOf(await ca.issue('s', { extendedKeyUsages: ['serverAuth'] }));
    denied(peerCertificateRules(serverOnly, server), 'eku_missing', /clientAuth/);
    allowed(peerCertificateRules(serverOnly, { side: 'client', now: new Date() }));
    const clientOnly = identityOf(await ca.issue('c', { extendedKeyUsages: ['clientAuth'] }));
    denied(
      peerCertificateRules(clientOnly, { side: 'client', now: new Date() }),
      'eku_missing',
      /serverAuth/,
    );
  });

  test('no EKU extension = any purpose (RFC 5280 4.2.1.12): allowed on both sides', async () => {
    const noEku = identityOf(await ca.issue('n', { extendedKeyUsages: null }));
    allowed(peerCertificateRules(noEku, server));
    allowed(peerCertificateRules(noEku, { side: 'client', now: new Date() }));
  });

  test('validity against the context clock → cert_expired / cert_not_yet_valid', () => {
    allowed(peerCertificateRules(a, server));
    const later = new Date(a.notAfter.getTime() + DAY_MS);
    denied(peerCertificateRules(a, { ...server, now: later }), 'cert_expired');
    const earlier = new Date(a.notBefore.getTime() - DAY_MS);
    denied(peerCertificateRules(a, { ...server, now: earlier }), 'cert_not_yet_valid');
  });
});
