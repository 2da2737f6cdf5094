// Would this peer be accepted, and why not: its certificate judged by the rules the node applies, on both
// sides of a federation connection (it dials us: the federation listener's rules; we dial it: the client's,
// with `--peer-uri` as the entity it must prove). A certificate file is judged against our CA bundle by the
// core's chain walk; a URL gets one real handshake with our identity (the core's probe), which also tells
// whether the peer kept the connection once it had seen our certificate. Each refusal carries the core's
// rejection reason (PEER_<REASON>), the one the node would log and count. With our CRLs loaded, a revoked
// peer (PEER_CERT_REVOKED) or one whose CA's CRL is stale (PEER_CRL_STALE) is refused as the node would.
import { readFile } from 'node:fs/promises';
import {
  type Authorizer,
  type AuthzContext,
  declaredIdentity,
  peerCertificateRules,
} from '../../tls/authorize.ts';
import type { Clock } from '../../tls/clock.ts';
import { TlsError } from '../../tls/errors.ts';
import { type PeerIdentity, peerIdentityFromDer } from '../../tls/identity.ts';
import { chainsTo, type MaterialPaths } from '../../tls/material.ts';
import { checkPeerTrust, type TrustMaterial } from '../../tls/revocation.ts';
import { type ParsedCertificate, parseCertificate, pemCertificatesToDer } from '../../tls/x509.ts';
import { probe } from '../../transport/probe.ts';
import { reasonForVerifyError } from '../../transport/rejections.ts';
import { requireUriSan } from '../app/federation-admission.ts';
import { peerCode } from './catalog.ts';
import { type Finding, finding } from './finding.ts';

/** server: the peer dials us (we judge it as the federation listener does); client: we dial it. */
type Side = AuthzContext['side'];

interface Refusal {
  reason: string;
  detail: string;
  sides: Side[];
}

export interface PeerCheckOptions {
  /** The entity URI the peer must prove (its manifest's `entity_uri`, the URI it was approved as). */
  peerUri: string | undefined;
  clock: Clock;
  /** Our CRLs and stale policy, when TESSERA_TLS_CRL_PATH is set. */
  trust?: TrustMaterial;
}

export interface PeerOutcome {
  findings: Finding[];
  /** Set when the check could not run (the finding that explains why is elsewhere). */
  skipped?: string;
}

export async function checkPeerCertFile(
  file: string,
  cas: readonly ParsedCertificate[],
  options: PeerCheckOptions,
): Promise<PeerOutcome> {
  let certs: ParsedCertificate[];
  try {
    certs = parsePeerFile(await readFile(file));
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    return { findings: [finding('PEER_CERT_UNREADABLE', file, `cannot use ${file}: ${why}`)] };
  }
  const [leaf, ...sent] = certs as [ParsedCertificate, ...ParsedCertificate[]];
  const now = options.clock();
  const refusals = judgeIdentity(peerIdentityFromDer(leaf.der), options.peerUri, now, options.trust);
  // What OpenSSL would say of the chain, from the core's own walk over the certificates the peer sends.
  const both: Side[] = ['server', 'client'];
  if (!chainsTo(leaf, sent, cas))
    add(refusals, {
      reason: leaf.selfIssued && sent.length === 0 ? 'cert_self_signed' : 'cert_untrusted',
      detail: `${leaf.subject} (issuer ${leaf.issuer}) does not chain to a CA of our bundle`,
      sides: both,
    });
  for (const cert of sent) {
    if (cert.notAfter < now)
      add(refusals, {
        reason: 'cert_expired',
        detail: `${cert.subject} in its chain expired at ${cert.notAfter.toISOString()}`,
        sides: both,
      });
  }
  return { findings: refusals.map((r) => refusalFinding(file, r)) };
}

export async function checkPeerUrl(
  url: string,
  ours: MaterialPaths,
  options: PeerCheckOptions & { timeoutMs: number },
): Promise<PeerOutcome> {
  const { host, port } = parsePeerUrl(url);
  let result: Awaited<ReturnType<typeof probe>>;
  try {
    result = await probe({
      host,
      port,
      ...ours,
      timeoutMs: options.timeoutMs,
      // A refusal of our certificate arrives after the handshake; a loaded peer may take a moment.
      settleMs: 1000,
      now: options.clock(),
    });
  } catch (error) {
    if (error instanceof TlsError) return { findings: [], skipped: 'our TLS material cannot be read' };
    return { findings: [connectionFinding(url, error as Error)] };
  }
  const refusals = result.identity
    ? judgeIdentity(result.identity, options.peerUri, options.clock(), options.trust)
    : [{ reason: 'cert_invalid', detail: 'the peer presented no certificate', sides: ['client' as Side] }];
  if (result.verifyError) {
    const reason = reasonForVerifyError(result.verifyError);
    const explained =
      refusals.some((r) => r.reason === reason) ||
      (reason === 'cert_wrong_purpose' &&
        refusals.some((r) => ['eku_missing', 'leaf_is_ca'].includes(r.reason)));
    // Its client certificate is the same one, checked against the same bundle (only the purpose differs).
    if (!explained)
      add(refusals, {
        reason,
        detail: `OpenSSL: ${result.verifyError}`,
        sides: reason === 'cert_wrong_purpose' ? ['client'] : ['server', 'client'],
      });
  }
  const findings = refusals.map((r) => refusalFinding(url, r));
  if (result.serverAcceptedUs === false)
    findings.push(
      finding(
        'PEER_REFUSED_US',
        url,
        `${url} closed the connection after seeing our certificate (${result.serverRefusal})${refusalHint(result.serverRefusal, refusals)}`,
      ),
    );
  return { findings };
}

/** The node's rules for each side, every refusal collected (not only the first). */
function judgeIdentity(
  identity: PeerIdentity,
  peerUri: string | undefined,
  now: Date,
  trust?: TrustMaterial,
): Refusal[] {
  const refusals: Refusal[] = [];
  const revoked = trust ? checkPeerTrust(identity, trust, now) : null;
  if (revoked) refusals.push({ reason: revoked.reason, detail: revoked.detail, sides: ['server', 'client'] });
  const rules: Record<Side, Authorizer[]> = {
    server: [peerCertificateRules, requireUriSan],
    client: [peerCertificateRules],
  };
  for (const side of ['server', 'client'] as const) {
    // Dialling, the node demands the declared URI; dialled, it binds the peer's token issuer to it.
    const sideRules = peerUri ? [...rules[side], declaredIdentity()] : rules[side];
    for (const rule of sideRules) {
      const decision = rule(identity, { side, now, ...(peerUri ? { expectedUri: peerUri } : {}) });
      if (decision.allow) continue;
      // Dialled, OpenSSL's purpose check refuses a CA leaf or a missing clientAuth during the handshake,
      // before the core's rules run: the listener logs cert_wrong_purpose, so that is the reason to give.
      const purpose =
        side === 'server' && (decision.reason === 'eku_missing' || decision.reason === 'leaf_is_ca');
      add(refusals, {
        reason: purpose ? 'cert_wrong_purpose' : decision.reason,
        detail: decision.detail,
        sides: [side],
      });
    }
  }
  return refusals;
}

/** Merges the same refusal seen from both sides into one. */
function add(refusals: Refusal[], refusal: Refusal): void {
  const same = refusals.find((r) => r.reason === refusal.reason && r.detail === refusal.detail);
  if (!same) refusals.push({ ...refusal, sides: [...refusal.sides] });
  else for (const side of refusal.sides) if (!same.sides.includes(side)) same.sides.push(side);
}

function refusalFinding(subject: string, refusal: Refusal): Finding {
  const when =
    refusal.sides.length === 2
      ? 'either way'
      : refusal.sides[0] === 'server'
        ? 'when it connects to us'
        : 'when we connect to it';
  return finding(
    peerCode(refusal.reason),
    subject,
    `we would refuse it ${when} (${refusal.reason}): ${refusal.detail}`,
  );
}

/** PEM (one or more CERTIFICATE blocks, leaf first) or a single DER certificate. */
function parsePeerFile(data: Buffer): ParsedCertificate[] {
  const text = data.toString('latin1');
  const ders = text.includes('-----BEGIN') ? pemCertificatesToDer(text) : [data];
  if (ders.length === 0) throw new Error('no PEM CERTIFICATE block');
  return ders.map((der, index) => {
    try {
      return parseCertificate(der);
    } catch {
      throw new Error(`certificate #${index + 1} cannot be parsed`);
    }
  });
}

export function parsePeerUrl(raw: string): { host: string; port: number } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`--peer-url must be a URL such as https://peer.example.org:8765 (got "${raw}")`);
  }
  if (url.protocol !== 'https:' || url.username || url.password)
    throw new Error(`--peer-url must be an https:// URL without credentials (got "${url.protocol}//…")`);
  return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(url.port || 443) };
}

const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

function connectionFinding(url: string, error: Error): Finding {
  const code = (error.cause as NodeJS.ErrnoException | undefined)?.code;
  if (code && UNREACHABLE.has(code)) return finding('PEER_UNREACHABLE', url, `cannot reach ${url} (${code})`);
  return finding('PEER_HANDSHAKE_FAILED', url, error.message);
}

/** What a refusal of our certificate most likely means, from the alert the peer sent. */
const ALERT_HINTS: Record<string, string> = {
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: 'it does not trust our CA: its bundle lacks the issuer of our certificate',
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED: 'it considers our certificate expired (check both clocks)',
  ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE: "our certificate's key usage does not fit its purpose check",
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: 'it found our certificate unacceptable',
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: 'it got no client certificate from us',
};

function refusalHint(refusal: string | null, ours: Refusal[]): string {
  const hint = refusal ? ALERT_HINTS[refusal] : undefined;
  if (hint) return `: ${hint}`;
  // A Node peer (Tessera) sends no alert: it checks after the handshake and closes.
  if (ours.some((r) => r.reason === 'cert_untrusted' || r.reason === 'cert_self_signed'))
    return ": we do not trust its chain either, so the two sides likely use different CAs (each must have the other's CA in its bundle, or both be issued by one CA)";
  return ': its checks refused our certificate after the handshake; its log says why (tls_peer_rejected with a reason, e.g. cert_untrusted when its bundle lacks our CA, uri_mismatch or denied when its rules refuse our identity)';
}
