// Every code `tessera doctor` can report, once: its severity, the family it belongs to, what it means and
// how to fix it. Findings take their severity and fix from here, and the operator guide's troubleshooting
// table (docs/operator/troubleshooting.md) is generated from it, so the two cannot drift. Codes are what
// operators and scripts match on: a code is never renamed, only added.
//
// The TLS core's own error codes (TlsErrorCode) keep their names here: the line a refusing node prints at
// start-up and the doctor finding for the same problem carry the same code. A peer's refusal is reported
// as PEER_<REASON>, REASON being the rejection reason the core logs (`tls_peer_rejected`) and counts
// (`tessera_tls_handshake_rejections_total{reason}`), so the table also explains every logged reason.
import type { TlsErrorCode } from '../../tls/errors.ts';

export type Severity = 'error' | 'warning';
export type Family = 'settings' | 'material' | 'peer';

export interface CatalogEntry {
  severity: Severity;
  family: Family;
  /** What the code means, one sentence. */
  cause: string;
  fix: string;
  /** For a peer finding: the rejection reason the core logs and counts for the same refusal. */
  reason?: string;
}

const settings = (severity: Severity, cause: string, fix: string): CatalogEntry => ({
  severity,
  family: 'settings',
  cause,
  fix,
});
const material = (severity: Severity, cause: string, fix: string): CatalogEntry => ({
  severity,
  family: 'material',
  cause,
  fix,
});
/** A peer refusal; `reason` (when the core has one) is the rejection reason it logs and counts. */
const peer = (cause: string, fix: string, reason?: string): CatalogEntry => ({
  severity: 'error',
  family: 'peer',
  cause,
  fix,
  ...(reason ? { reason } : {}),
});

const CA_ROLL =
  "issue a new CA, add it to every peer's bundle, reissue the leaves from it, then remove the old CA (TLS operations, Changing CAs)";

export const CATALOG = {
  // Settings: whatever the settings loader of `tessera serve` refuses.
  SETTINGS_INVALID: settings(
    'error',
    'a setting (flag or variable) is refused by the settings loader: `tessera serve` would exit 1 before opening anything',
    "correct the named setting; the README's configuration table gives each one's values and default",
  ),
  SETTINGS_ALIAS_CONFLICT: settings(
    'error',
    'a `TESSERA_*` variable and its `STIGMEM_*` alias are both set, to different values',
    'set only one of the two names (or give both the same value)',
  ),
  TLS_CONFIG_INVALID: settings(
    'error',
    'the federation transport settings are incomplete or contradict each other: federation needs all three TLS paths unless the insecure dev mode is on, a switch is not `1`/`true`/`0`/`false`, or the second insecure acknowledgement is set without the first',
    'give `TESSERA_TLS_CERT_PATH`, `_KEY_PATH` and `_CA_BUNDLE` (or `TESSERA_FEDERATION_ENABLED=false` for a single node); unset the stray switch',
  ),
  TLS_INSECURE_REFUSED: settings(
    'error',
    '`TESSERA_FEDERATION_INSECURE=1` together with TLS paths, or with a bind address or advertised URL that is not loopback (rule 7)',
    'use mutual TLS; for local development keep the bind address and `TESSERA_NODE_URL` on loopback, or also set `TESSERA_LOCAL_DEV_ALLOW_INSECURE_NON_LOOPBACK=1` on an isolated network',
  ),
  FEDERATION_INSECURE: settings(
    'warning',
    'federation runs without TLS (`TESSERA_FEDERATION_INSECURE=1`): peers are not authenticated',
    'local development only: configure the three TLS paths and unset `TESSERA_FEDERATION_INSECURE` before anyone else joins',
  ),

  // Our own certificate, key and CA bundle (rule 1 of the TLS core, and what start-up cannot see).
  TLS_FILE_UNREADABLE: material(
    'error',
    'the certificate, key or CA bundle is missing or cannot be read by this user',
    "check the path setting, and that the node's user can read the file and every directory above it",
  ),
  TLS_PEM_INVALID: material(
    'error',
    'the certificate file (or a certificate in it) is not a parseable PEM certificate',
    'give the PEM chain, leaf first; `tessera pki inspect FILE` shows what the file holds',
  ),
  TLS_CA_BUNDLE_EMPTY: material(
    'error',
    'the CA bundle holds no PEM certificate',
    'point `TESSERA_TLS_CA_BUNDLE` at the federation CA certificate(s), in PEM',
  ),
  TLS_KEY_INVALID: material(
    'error',
    'the key file is not an unencrypted PEM private key (encrypted keys are not supported)',
    'give the PEM private key; `openssl pkey -in KEY -out KEY.pem` writes an unencrypted copy',
  ),
  TLS_KEY_MISMATCH: material(
    'error',
    'the private key belongs to another certificate',
    'install the key and the certificate issued together; on renewal replace both, key first, each by rename',
  ),
  TLS_CHAIN_UNTRUSTED: material(
    'error',
    'our certificate (with the intermediates in its file) does not chain to a CA of our bundle',
    'add the issuing CA to the bundle, append the missing intermediates to the certificate file, or reissue from the federation CA',
  ),
  TLS_LEAF_IS_CA: material(
    'error',
    "the first certificate of the certificate file is a CA certificate, not the node's leaf",
    "put the node's leaf first; reissue it without `basicConstraints CA:TRUE`",
  ),
  TLS_EKU_MISSING: material(
    'error',
    'our certificate has an extended key usage extension without serverAuth and/or clientAuth (a node listens and dials; no EKU extension at all is fine, RFC 5280)',
    'reissue with both usages (cert-manager: `usages: [server auth, client auth]`), or with no EKU extension',
  ),
  TLS_CERT_EXPIRED: material(
    'error',
    'a certificate (our leaf, an intermediate, or a CA of the bundle) is past its notAfter, beyond 5 minutes of skew: start-up and reloads refuse the material',
    `renew the certificate; an expired CA: ${CA_ROLL}; check the clock (NTP)`,
  ),
  TLS_CERT_NOT_YET_VALID: material(
    'error',
    "a certificate's notBefore is in the future, beyond 5 minutes of skew",
    "check this host's clock and the issuer's (NTP), or wait until notBefore",
  ),
  TLS_CRL_INVALID: material(
    'error',
    'a file of `TESSERA_TLS_CRL_PATH` is not a CRL (no `X509 CRL` PEM block and not DER, or it cannot be parsed): start-up refuses the material, and a reload keeps the old material',
    'replace the file with the CRL your CA publishes (`openssl crl -in <file> -noout -text` must read it), or remove it from the CRL path',
  ),
  TLS_CRL_ISSUER_UNKNOWN: material(
    'error',
    'a CRL is issued by a CA that is not in our CA bundle: nobody we trust vouches for it, so it is refused (start-up fails, a reload keeps the old material)',
    'add that CA to the bundle if its leaves are peers, else remove the CRL from `TESSERA_TLS_CRL_PATH`',
  ),
  TLS_CRL_SIGNATURE: material(
    'error',
    "a CRL names a CA of our bundle as issuer, but that CA's key did not sign it (forged, corrupted, or from a CA of the same name): refused like bad material",
    'fetch the CRL again from the CA (`tessera pki crl` for the dev CA); after a CA key rotation, check that the bundle holds the new CA',
  ),
  TLS_CRL_STALE: material(
    'error',
    'a CRL is past its nextUpdate: with `TESSERA_TLS_CRL_STALE=fail` (default) every peer of that CA is refused (`crl_stale`); with `warn` they are accepted and `tessera_tls_crl_stale_accepted_total` counts them',
    'deploy the newer CRL from the CA (the node picks it up without a restart), or fix the job that publishes it; `warn` only as a stopgap',
  ),
  TLS_CRL_NEAR_STALE: material(
    'warning',
    "a CRL's nextUpdate is inside the expiry warning window: when it passes, peers of that CA are refused (`crl_stale`) unless the stale policy is `warn`",
    'check that the job which publishes the next CRL runs, and deploy its output before nextUpdate',
  ),
  TLS_LIFETIME_TOO_SHORT: material(
    'error',
    'our certificate has less time left than `TESSERA_TLS_MIN_REMAINING_LIFETIME`: start-up refuses it, and a reload keeps the old material',
    'renew it (check that the issuer is healthy: a renewal that arrives nearly expired is the symptom the floor guards against), or lower the floor',
  ),
  TLS_ENTITY_URI_MISSING: material(
    'error',
    '`TESSERA_ENTITY_URI` is not a URI SAN of our certificate: peers refuse our identity and our peer tokens (`token_binding_mismatch`)',
    'reissue with the entity URI as URI SAN (openssl: `-addext subjectAltName=URI:<entity URI>` and the same in `-extfile`), or correct `TESSERA_ENTITY_URI`',
  ),
  TLS_SELF_HANDSHAKE_FAILED: material(
    'error',
    'the material passed the static checks, but OpenSSL refused it in a loopback mutual TLS 1.3 handshake',
    "read the detail (OpenSSL's reason); `tessera tls check` runs the same handshake",
  ),
  TLS_CERT_EXPIRES_SOON: material(
    'warning',
    'our certificate (or an intermediate in its file) ends inside `TESSERA_TLS_EXPIRY_WARNING`',
    'renew it before the critical window; check that automatic renewal (cert-manager, a timer) runs',
  ),
  TLS_CERT_EXPIRY_CRITICAL: material(
    'error',
    'our certificate (or an intermediate in its file) ends inside `TESSERA_TLS_EXPIRY_CRITICAL`: the node logs it at error level, and refuses it once expired',
    'renew it now',
  ),
  TLS_CA_EXPIRES_SOON: material(
    'warning',
    'a CA of our bundle ends inside `TESSERA_TLS_EXPIRY_WARNING`',
    CA_ROLL,
  ),
  TLS_CA_EXPIRY_CRITICAL: material(
    'error',
    'a CA of our bundle ends inside `TESSERA_TLS_EXPIRY_CRITICAL`: once it expires the node refuses the whole bundle',
    CA_ROLL,
  ),
  TLS_CA_DUPLICATE: material(
    'warning',
    'the same CA certificate appears more than once in the bundle',
    'remove the extra copies (harmless, but often the sign of a botched concatenation)',
  ),
  TLS_CA_NOT_A_CA: material(
    'warning',
    'a certificate in the CA bundle is not a CA (no `basicConstraints CA:TRUE`): it cannot anchor any chain',
    'remove it from the bundle and put the CA that issued it there instead',
  ),
  TLS_SPIFFE_ID_NOT_SINGLE: material(
    'warning',
    'the entity URI is a SPIFFE ID, but the certificate carries several URI SANs: it is not an X.509-SVID, and peers that authorize by trust domain refuse it (`no_spiffe_id`)',
    'reissue with the SPIFFE ID as the only URI SAN',
  ),
  TLS_KEY_FILE_MODE: material(
    'error',
    'the private key file is readable or writable by its group or by others (accepted: a Kubernetes secret volume, root:<fsGroup> with mode 0440, the node not root and in that group)',
    "`chmod 600 KEY` (Kubernetes: `defaultMode: 0440` with the pod's `fsGroup`, as in deploy/kubernetes)",
  ),
  TLS_FILE_OWNER: material(
    'error',
    'our certificate or key is owned by another user than the one the node runs as',
    "`chown` it to the node's user (Kubernetes: a secret volume is root-owned; give it `defaultMode: 0440` and the pod an `fsGroup`)",
  ),
  TLS_FILE_WRITABLE: material(
    'error',
    'our certificate or CA bundle is writable by its group or by others: whoever can write it changes whom the node claims to be or trusts',
    "`chmod 644 FILE` (or 444), owned by the node's user or root",
  ),

  // A peer: `--peer-cert FILE` (judged against our bundle), `--peer-url` (a real handshake with our identity).
  PEER_CERT_UNREADABLE: peer(
    'the file given to `--peer-cert` cannot be read or holds no certificate',
    "give the peer's certificate, PEM or DER, leaf first",
  ),
  PEER_UNREACHABLE: peer(
    'nothing answered at `--peer-url`: connection refused, timed out, or the name does not resolve',
    "check the URL, the peer's `TESSERA_FEDERATION_HOST`/`_PORT` and the firewalls between",
  ),
  PEER_REFUSED_US: peer(
    'the peer closed the connection, or sent an alert, once it had seen our certificate: it does not accept us',
    "read the peer's log: `tls_peer_rejected` gives its reason (the rows of this table); an `unknown ca` alert (from peers that send alerts) means its bundle lacks our CA",
  ),
  PEER_HANDSHAKE_FAILED: peer(
    "the TLS handshake failed before certificates were judged (the detail has OpenSSL's code)",
    'read the detail; both sides must speak TLS 1.3 with one of the three suites',
    'handshake_failed',
  ),
  PEER_CERT_UNTRUSTED: peer(
    "the peer's chain does not lead to a CA of our bundle",
    'add its CA to our bundle, or have it reissued from ours',
    'cert_untrusted',
  ),
  PEER_CERT_SELF_SIGNED: peer(
    "the peer's certificate is self-signed",
    'have it issued by the federation CA',
    'cert_self_signed',
  ),
  PEER_CERT_INVALID: peer(
    "OpenSSL refused the peer's certificate for another reason (the detail has its code)",
    "read the detail; `tessera pki inspect` on the peer's certificate",
    'cert_invalid',
  ),
  PEER_CERT_REVOKED: peer(
    "the peer's certificate serial is on a CRL of its CA (`TESSERA_TLS_CRL_PATH`): refused at the handshake, and open connections are closed when the CRL arrives",
    'intended; the peer needs a new certificate (a new serial); if revoked by mistake, deploy a CRL without that serial',
    'cert_revoked',
  ),
  PEER_CRL_STALE: peer(
    "the CRL of the peer's CA is past its nextUpdate and the stale policy is `fail`: no current revocation data, so the peer is refused (closed on open connections too)",
    'deploy a current CRL for that CA (`TESSERA_TLS_CRL_PATH`); `TESSERA_TLS_CRL_STALE=warn` accepts such peers meanwhile',
    'crl_stale',
  ),
  PEER_CERT_EXPIRED: peer(
    "the peer's certificate (or its chain) is past its notAfter",
    'the peer renews its certificate; check both clocks (NTP)',
    'cert_expired',
  ),
  PEER_CERT_NOT_YET_VALID: peer(
    "the peer's certificate is not valid yet",
    'check both clocks (NTP)',
    'cert_not_yet_valid',
  ),
  PEER_CERT_WRONG_PURPOSE: peer(
    "OpenSSL's purpose check failed: an EKU extension without the usage of the peer's role, or a CA certificate as the leaf",
    'reissue as a leaf with both EKUs, or with no EKU extension',
    'cert_wrong_purpose',
  ),
  PEER_EKU_MISSING: peer(
    "the peer's EKU extension lacks the usage of its role (clientAuth when it dials us, serverAuth when we dial it); no EKU extension at all is accepted",
    'reissue with both EKUs, or with no EKU extension',
    'eku_missing',
  ),
  PEER_LEAF_IS_CA: peer(
    'the peer presents a CA certificate as its leaf',
    "reissue the peer's certificate as a leaf",
    'leaf_is_ca',
  ),
  PEER_NO_URI_SAN: peer(
    "the peer's certificate has no URI SAN, so it names no entity: the federation listener refuses it",
    "reissue with the peer's entity URI as URI SAN",
    'no_uri_san',
  ),
  PEER_URI_MISMATCH: peer(
    'the chain is valid, but the URI SAN is not the entity URI the peer declared (`--peer-uri`, its manifest, its approval)',
    "the peer's certificate must carry the entity URI it declares; if it does, something else answers at that address",
    'uri_mismatch',
  ),
  PEER_NO_DECLARED_IDENTITY: peer(
    'we dialled an origin for which no entity URI is known',
    'add the peer (`tessera peers add`), or configure the expected identity of that origin',
    'no_declared_identity',
  ),
  PEER_URI_PREFIX_MISMATCH: peer(
    "no URI SAN under the allowed prefix (an application's `uriPrefix` rule)",
    "check the allow rules, or the peer's URI SAN",
    'uri_prefix_mismatch',
  ),
  PEER_TRUST_DOMAIN_MISMATCH: peer(
    "the peer's SPIFFE ID is in another trust domain (`spiffeTrustDomain` rule)",
    'check the allowed trust domains',
    'trust_domain_mismatch',
  ),
  PEER_NO_SPIFFE_ID: peer(
    'a trust-domain rule needs exactly one spiffe:// URI SAN, and the peer has none or several',
    "reissue the peer's certificate as an X.509-SVID (one URI SAN)",
    'no_spiffe_id',
  ),
  PEER_SPKI_NOT_PINNED: peer(
    "the peer's public key is not among the pinned SPKI hashes (`spkiPin` rule)",
    'pin its new key (after a key rotation), or check who answers',
    'spki_not_pinned',
  ),
  PEER_NO_RULE_MATCHED: peer(
    'none of the configured allow rules (`anyOf`) matched the peer',
    "the detail lists each rule's refusal; check the allow rules",
    'no_rule_matched',
  ),
  PEER_DENIED: peer(
    'the peer is on the deny-list (revoked with `tessera peers revoke`)',
    'intended; approve it again only on purpose',
    'denied',
  ),
  PEER_NO_CLIENT_CERTIFICATE: peer(
    'a client connected without a certificate',
    "configure the client's certificate and key",
    'no_client_certificate',
  ),
  PEER_PROTOCOL_VERSION: peer(
    'the client offered no TLS 1.3',
    'upgrade the client; Tessera speaks TLS 1.3 only',
    'protocol_version',
  ),
  PEER_NO_SHARED_CIPHER: peer(
    'no TLS 1.3 suite in common (e.g. a client offering only CCM suites)',
    'allow one of TLS_AES_256_GCM_SHA384, TLS_AES_128_GCM_SHA256, TLS_CHACHA20_POLY1305_SHA256',
    'no_shared_cipher',
  ),
  PEER_PLAINTEXT_HTTP: peer(
    'plain HTTP was sent to the TLS port',
    'use `https://` and a client certificate',
    'plaintext_http',
  ),
  PEER_FORWARDED_CERT_UNTRUSTED_SOURCE: peer(
    'a client that is not a trusted proxy sent X-Forwarded-Client-Cert / Client-Cert: the headers were removed',
    'harmless when it is a probe or an attack; when it is your proxy, add its address to `TESSERA_TRUSTED_PROXIES` (and its URI SAN to `TESSERA_TRUSTED_PROXY_IDENTITIES` when set)',
    'forwarded_cert_untrusted_source',
  ),
  PEER_FORWARDED_CERT_MALFORMED: peer(
    "a trusted proxy's forwarded-certificate header cannot be read (400 forwarded_cert_invalid; the detail names what)",
    'fix the proxy configuration: see docs/wires/proxy-terminated-mtls.md (`TESSERA_FORWARDED_CERT_HEADER` must match the header the proxy writes)',
    'forwarded_cert_malformed',
  ),
  PEER_NOT_TLS: peer(
    'our mTLS client was asked to dial an `http://` origin (it never speaks plaintext)',
    "give the peer's `https://` URL",
    'not_tls',
  ),
} as const satisfies Record<TlsErrorCode, CatalogEntry> & Record<string, CatalogEntry>;

export type DoctorCode = keyof typeof CATALOG;

export function isDoctorCode(code: string): code is DoctorCode {
  return Object.hasOwn(CATALOG, code);
}

/** The code of a peer refusal for a core rejection reason (`cert_untrusted` → PEER_CERT_UNTRUSTED). */
export function peerCode(reason: string): DoctorCode {
  const code = `PEER_${reason.toUpperCase()}`;
  return isDoctorCode(code) ? code : 'PEER_CERT_INVALID';
}
