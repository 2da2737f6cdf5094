// "This node": who it is (entity URI, federation URL, node key) and the certificate it presents, with how
// long that certificate has left at the expiry monitor's levels.
import type { ExpiryMonitor } from '../../../tls/expiry.ts';
import type { ParsedCertificate } from '../../../tls/x509.ts';
import type { NodeContext } from '../../app/context.ts';
import { iso, secondsBetween } from './time.ts';

export type NodeSection = ReturnType<typeof nodeSection>;

export function nodeSection(ctx: NodeContext, nowMs: number, startedAtMs: number) {
  const { config } = ctx;
  const key = ctx.keys.nodeKey();
  const leaf = ctx.credentials?.material.leaf;
  return {
    entity_uri: config.entityUri,
    federation_url: config.federationEnabled ? ctx.nodeUrl : null,
    /** mtls, insecure (dev only), or none (a single node without federation). */
    federation: config.federationEnabled ? config.federation.mode : 'none',
    api_tls: config.apiTls,
    started_at: iso(startedAtMs),
    node_key: { key_id: key.keyId, fingerprint: key.fingerprint },
    certificate: leaf ? certificateView(leaf, ctx.expiry, nowMs) : null,
  };
}

function certificateView(leaf: ParsedCertificate, expiry: ExpiryMonitor | null, nowMs: number) {
  return {
    subject: leaf.subject,
    issuer: leaf.issuer,
    serial: leaf.serial,
    not_before: iso(leaf.notBefore.getTime()),
    not_after: iso(leaf.notAfter.getTime()),
    seconds_left: secondsBetween(nowMs, leaf.notAfter.getTime()),
    level: expiry?.levelOf(leaf.notAfter) ?? null,
    uris: leaf.uris,
    dns_names: leaf.dnsNames,
    ips: leaf.ips,
    fingerprint256: leaf.fingerprint256,
    spki_sha256: leaf.spkiSha256,
  };
}
